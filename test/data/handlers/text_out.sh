#!/bin/sh
# Output that is not JSON, with trailing blank lines: becomes a JSON string, trimmed.
printf 'hello "world"\n\n'
