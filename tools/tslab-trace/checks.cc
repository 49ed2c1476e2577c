// Privilege, BTF and uprobe-semaphore checks.
#include "tools/tslab-trace/checks.h"

#include <bpf/btf.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tslab::trace {
namespace {

// Older headers lack the two capabilities split out of CAP_SYS_ADMIN in 5.8.
constexpr int kCapSysAdmin = 21;
constexpr int kCapPerfmon = 38;
constexpr int kCapBpf = 39;

constexpr char kRefCtrFormat[] =
    "/sys/bus/event_source/devices/uprobe/format/ref_ctr_offset";

}  // namespace

Status CheckPrivileges() {
  __user_cap_header_struct hdr{};
  hdr.version = _LINUX_CAPABILITY_VERSION_3;
  hdr.pid = 0;
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &hdr, data) != 0) {
    return Status::Error(kExitFailure,
                         std::string("capget: ") + std::strerror(errno));
  }
  auto has = [&](int cap) {
    return (data[cap / 32].effective >> (cap % 32)) & 1u;
  };
  if (has(kCapSysAdmin) || (has(kCapBpf) && has(kCapPerfmon))) {
    return Status::Ok();
  }
  return Status::Error(kExitNoPrivilege,
                       "permission denied: tslab-trace needs root, or the "
                       "CAP_BPF and CAP_PERFMON capabilities (try sudo)");
}

Status CheckBtf() {
  // The same search libbpf's CO-RE relocation does at load.
  struct btf* btf = btf__load_vmlinux_btf();
  if (btf == nullptr) {
    return Status::Error(kExitNoBtf,
                         "kernel BTF not found (/sys/kernel/btf/vmlinux): "
                         "tslab-trace needs a kernel built with "
                         "CONFIG_DEBUG_INFO_BTF=y");
  }
  btf__free(btf);
  return Status::Ok();
}

Status CheckRefCtrSupport() {
  if (access(kRefCtrFormat, R_OK) == 0) return Status::Ok();
  return Status::Error(kExitNoRefCtr,
                       std::string("kernel lacks uprobe semaphore support (no ") +
                           kRefCtrFormat +
                           "; needs Linux 4.20 or later): tslab's probes "
                           "would never fire");
}

}  // namespace tslab::trace
