#!/bin/sh
# Echoes the payload back: checks that the payload arrives whole on stdin.
exec cat
