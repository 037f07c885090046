#!/bin/sh
# Appends one line per run to the file named by $1 (a test counts the handler's runs), then
# echoes the payload.
echo "${PFO3_TASK_ID:-?} ${PFO3_TASK_ATTEMPT:-?}" >> "$1"
exec cat
