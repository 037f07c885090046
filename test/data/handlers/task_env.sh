#!/bin/sh
# Prints a JSON object built from the environment pfo3 gives a handler.
cat >/dev/null
printf '{"id":"%s","type":"%s","attempt":%s}\n' "$PFO3_TASK_ID" "$PFO3_TASK_TYPE" "$PFO3_TASK_ATTEMPT"
