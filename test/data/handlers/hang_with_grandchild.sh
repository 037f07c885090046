#!/bin/sh
# Starts a grandchild, writes its pid to "$1", then waits for it forever: only killing the
# whole process group ends both.
sleep 1000 &
echo $! > "$1.tmp" && mv "$1.tmp" "$1"
wait
