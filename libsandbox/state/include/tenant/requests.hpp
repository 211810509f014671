// The requests-in-progress table (DESIGN.md "max_requests"): per tenant, how
// many of its requests are in progress right now across every worker
// process and thread, plus how many were admitted and refused since the
// table was created. Shared by every Apache process through the file
// STATE_DIR/requests (state_file.hpp: folder 0750, file 0660).
//
// Layout (fixed, sized once; the file is sparse, untouched pages cost
// nothing):
//   header     magic, version, table sizes, creation time
//   tenants    262,144 rows, handed out densely in claim order, one per
//              tenant id ever seen: {key (64-bit hash | state), in_progress,
//              admitted, refused, last reclaim, last log line, id}.
//              Rows are never freed: 100,000+ tenants fit with short probes;
//              when no row can be found the tenant is not counted and a
//              tenant with a cap is refused (fail closed, logged).
//   index      open addressing (linear probing) from the id's hash to its
//              row; dense rows keep the memory a tenant costs at 128 bytes
//              (rows placed by hash cost a 4 KB page each), and a reader
//              touches only the rows in use
//   in flight  65,536 slots, one per request in progress (any tenant):
//              {owner = pid << 32 | state, tenant row, tid, start time of
//              pid}. This is what makes a killed worker recoverable: its
//              slots name it, and a process that no longer exists (or whose
//              pid now belongs to a process started later: the start time
//              from /proc/PID/stat differs) cannot be running a request.
//
// Exact under concurrency: the cap is taken with a compare-and-swap on the
// tenant's in_progress (never above the cap, never below zero), and every
// slot changes owner by compare-and-swap, so a slot is released exactly
// once -- by its request, or by a reclaim when its process died. There is no
// lock anywhere: a process killed at any instruction cannot block the others.
// The only loss a SIGKILL can cause is one count, when it lands in the few
// instructions between the cap's CAS and the slot's "counted" store (or
// between "releasing" and the decrement); both windows are a handful of
// instructions long.
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tenant/state_file.hpp"

namespace tenant::state {

// ---- for the status page and CLI ----------------------------------------
struct TenantRequests {
  std::string tenant;
  std::uint32_t in_progress;
  std::uint64_t admitted;
  std::uint64_t refused;
};
// Reads the table under `dir` (read-only); false + err when it cannot.
bool read_requests(const std::string& dir, std::vector<TenantRequests>& out, std::string& err);

// ---- for the module -------------------------------------------------------
inline constexpr std::uint32_t kNoCap = 0xffffffffu;  // tenant::kUnlimited

enum class Verdict : std::uint8_t {
  Admitted,         // counted: release the ticket when the request ends
  OverLimit,        // at its cap even after reclaiming dead processes' slots
  TenantTableFull,  // no row for this tenant: not counted (refuse when capped)
  SlotTableFull,    // no in-flight slot left: not counted (refuse when capped)
};

// What a request holds while it is counted: its in-flight slot + 1 (0: none).
struct Ticket {
  std::uint32_t slot_plus_one = 0;
};

struct Admission {
  Verdict verdict = Verdict::TenantTableFull;
  Ticket ticket;
  std::uint32_t in_progress = 0;  // the tenant's count after this decision
  std::uint64_t refused = 0;      // the tenant's refusals so far (this one included)
  bool over_cap = false;          // admitted above the cap (enforce == false)
  bool log_now = false;           // first over-limit event of this tenant this second
};

class RequestTable {
 public:
  static constexpr std::uint32_t kTenantRows = 262144;  // power of two
  static constexpr std::uint32_t kFlightSlots = 65536;  // power of two
  struct Layout;

  RequestTable() noexcept = default;
  // Opens (creating when missing) dir/requests; false + err naming the path.
  // The SysCalls are kept for the /proc reads of note_process and reclaims.
  bool open(const char* dir, const SysCalls& sys, char* err, std::size_t errlen) noexcept;
  bool is_open() const noexcept { return map_ != nullptr; }
  void close() noexcept;

  // Records this process (pid and its start time from /proc/self/stat) as
  // the owner of the slots it takes. Call after every fork, before the first
  // admit, from a thread with no tenant set (it reads /proc). Without it,
  // slots carry start time 0 and a reclaim judges them by pid alone.
  bool note_process() noexcept;

  // Counts one request of `tenant` (a valid tenant id). `cap` (kNoCap: none)
  // is enforced when `enforce`; otherwise the request is counted whatever
  // the count (audit), and over_cap says it would have been refused. When
  // the tenant is at its cap, slots of dead processes are reclaimed (at most
  // once per 100 ms per tenant) before refusing. Allocates nothing; the
  // only system calls are the /proc reads of a reclaim.
  Admission admit(std::string_view tenant, std::uint32_t cap, bool enforce) noexcept;
  // Ends the request; the ticket is emptied (releasing twice is a no-op).
  void release(Ticket& t) noexcept;

  // Frees every slot of process `pid`, which the caller knows has ended
  // (the Apache parent, when it reaps a worker). Returns how many.
  std::uint32_t release_process(pid_t pid) noexcept;
  // Frees every slot whose process is gone (start-up sweep). Returns how many.
  std::uint32_t reclaim_all_dead() noexcept;

  // The tenant's current count, or 0 when unknown (tests).
  std::uint32_t in_progress(std::string_view tenant) const noexcept;

 private:
  Layout* map_ = nullptr;
  SysCalls sys_{};
  pid_t pid_ = 0;
  std::uint64_t start_time_ = 0;
};

}  // namespace tenant::state
