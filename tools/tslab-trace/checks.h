// tools/tslab-trace/checks.h: what the system must offer before tslab-trace
// loads anything, each failure mapped to its own exit code and one line.
//
// Purpose: libbpf's own errors for these cases are an errno deep inside a
// log (EPERM from bpf(), ENOENT for BTF, EINVAL from perf_event_open); the
// user gets a sentence saying what is missing instead.
// Thread-safety: none needed (called once, from main).
#ifndef TSLAB_TOOLS_TSLAB_TRACE_CHECKS_H_
#define TSLAB_TOOLS_TSLAB_TRACE_CHECKS_H_

#include "tools/tslab-trace/status.h"

namespace tslab::trace {

// Effective CAP_SYS_ADMIN, or both CAP_BPF and CAP_PERFMON.
Status CheckPrivileges();
// Kernel BTF, found where libbpf looks for it (/sys/kernel/btf/vmlinux,
// then the vmlinux images of /boot and /lib/modules).
Status CheckBtf();
// The uprobe PMU's ref_ctr_offset field (Linux 4.20+): the kernel raises a
// probe's semaphore while a uprobe is attached. Without it libbpf would
// attach, but every probe guarded by its semaphore would stay silent.
Status CheckRefCtrSupport();

}  // namespace tslab::trace

#endif  // TSLAB_TOOLS_TSLAB_TRACE_CHECKS_H_
