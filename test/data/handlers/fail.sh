#!/bin/sh
# Fails with exit status 3 after explaining itself on stderr.
echo "first line" >&2
echo "it broke" >&2
exit 3
