#!/usr/bin/env bash
echo "input table searches_raw is empty" >&2
exit 3
