#!/usr/bin/env bash
# Schedulers with two workers (each schedules its own flows): within 3 % of the ideal split of 200 connections.
source "$(dirname "$0")/lib.sh"

lab_up 2 nat
http_service rr -m
read -r rs1 rs2 other <<<"$(http_counts 200)"
assert_eq 0 "$other" "failed requests (rr)"
assert_near 100 "$rs1" 6 "rr rs1"
assert_near 100 "$rs2" 6 "rr rs2"
ok "rr $rs1/$rs2"

lab_rvsadm -C
http_service wrr -m 3 1
read -r rs1 rs2 other <<<"$(http_counts 200)"
assert_eq 0 "$other" "failed requests (wrr)"
assert_near 150 "$rs1" 6 "wrr rs1"
assert_near 50 "$rs2" 6 "wrr rs2"
ok "wrr $rs1/$rs2"
