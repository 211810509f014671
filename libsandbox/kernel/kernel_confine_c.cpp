// C facade (kernel_confine_c.h): nothing throws across it.
#include "kernel_confine_c.h"

#include <cerrno>
#include <cstdio>
#include <string>

#include "kernel_confine.hpp"

struct tenant_kernel_confinement {
  std::unique_ptr<tenant::kernel::Confinement> c;
};

namespace {
void put(char* msg, size_t len, const std::string& s) noexcept {
  if (msg != nullptr && len > 0) std::snprintf(msg, len, "%s", s.c_str());
}
void append(std::vector<std::string>& v, const char* const* list) {
  if (list == nullptr) return;
  for (; *list != nullptr; ++list) v.emplace_back(*list);
}
}  // namespace

extern "C" int tenant_kernel_probe(char* msg, size_t msglen) {
  try {
    const tenant::kernel::KernelSupport s = tenant::kernel::probe();
    put(msg, msglen, s.describe());
    return s.landlock_abi;
  } catch (...) {
    return -ENOMEM;
  }
}

extern "C" int tenant_kernel_worker_baseline(char* msg, size_t msglen) {
  try {
    auto r = tenant::kernel::apply_worker_baseline();
    if (!r) {
      put(msg, msglen, r.error().str());
      return -EPERM;
    }
    put(msg, msglen, r.value().describe());
    return 0;
  } catch (...) {
    return -ENOMEM;
  }
}

extern "C" int tenant_kernel_prepare(const void* tenant_context, const char* const* extra_read_only,
                                     const char* const* extra_read_write, const char* const* extra_exec,
                                     tenant_kernel_confinement** out, char* msg, size_t msglen) {
  if (tenant_context == nullptr || out == nullptr) return -EINVAL;
  *out = nullptr;
  try {
    tenant::kernel::ConfineOptions o;
    append(o.extra_read_only, extra_read_only);
    append(o.extra_read_write, extra_read_write);
    append(o.extra_exec, extra_exec);
    auto r = tenant::kernel::Confinement::prepare(*static_cast<const tenant::TenantContext*>(tenant_context), o);
    if (!r) {
      put(msg, msglen, r.error().str());
      return -EPERM;
    }
    put(msg, msglen, r.value()->report().describe());
    *out = new tenant_kernel_confinement{std::move(r.value())};
    return 0;
  } catch (...) {
    return -ENOMEM;
  }
}

extern "C" int tenant_kernel_start_thread(const tenant_kernel_confinement* c, void* (*fn)(void*), void* arg,
                                          pthread_t* thread) {
  if (c == nullptr || !c->c) return -EINVAL;
  return tenant::kernel::start_confined_thread(*c->c, fn, arg, thread);
}

extern "C" int tenant_kernel_apply(const tenant_kernel_confinement* c) {
  if (c == nullptr || !c->c) return -EINVAL;
  return c->c->apply();
}

extern "C" void tenant_kernel_free(tenant_kernel_confinement* c) { delete c; }
