#!/usr/bin/env bash
# Schedulers with one worker are exact: 200 connections, rr -> 100/100, wrr 3:1 -> 150/50.
source "$(dirname "$0")/lib.sh"

lab_up 1 nat
http_service rr -m
read -r rs1 rs2 other <<<"$(http_counts 200)"
assert_eq "100 100 0" "$rs1 $rs2 $other" "rr over 200 connections (rs1 rs2 failed)"
ok "rr 100/100"

lab_rvsadm -C
http_service wrr -m 3 1
read -r rs1 rs2 other <<<"$(http_counts 200)"
assert_eq "150 50 0" "$rs1 $rs2 $other" "wrr 3:1 over 200 connections (rs1 rs2 failed)"
ok "wrr 150/50"
