// SPDX-License-Identifier: GPL-2.0
/* bpf/bench_empty_uprobe.bpf.c: the baseline of tslab-bench's cost-per-probe-
 * hit measurement (bench/usdt_cost.h): a uprobe program that does nothing.
 *
 * Attached as a plain uprobe (no USDT argument spec) at the address of a
 * tslab probe's nop, with the probe's semaphore raised as any USDT tracer
 * raises it (tslab's probes are behind their semaphores), it prices what
 * any uprobe costs there:
 * the breakpoint trap, the kernel's uprobe dispatch, entering and leaving a
 * BPF program. tslab-trace's real program on the same site costs that plus
 * its own work (argument fetch, atomic adds); the target is at most
 * 1.5 times this one. Built by mk/bench.mk with mk/trace.mk's BPF flags.
 */
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>

SEC("uprobe")
int bench_empty(struct pt_regs *ctx) { return 0; }

char LICENSE[] SEC("license") = "GPL";
