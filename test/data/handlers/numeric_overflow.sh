#!/bin/sh
# Answers the payload "overflow" with a number of 20000 fractional digits: valid JSON, so the
# worker keeps it as the result's text, but PostgreSQL's numeric (jsonb) holds at most 16383
# digits after the point and refuses the record ("value overflows numeric format"). Any other
# payload is echoed.
p=$(cat)
if [ "$p" = '"overflow"' ]; then
    printf '1.'
    head -c 20000 /dev/zero | tr '\0' '0'
    echo
else
    printf '%s\n' "$p"
fi
