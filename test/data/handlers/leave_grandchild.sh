#!/bin/sh
# Exits at once but leaves a grandchild holding stdout open; its pid goes to "$1".
sleep 1000 &
echo $! > "$1.tmp" && mv "$1.tmp" "$1"
echo '"finished"'
