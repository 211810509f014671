// Result<T>: expected failures are values, never exceptions. The preload
// library and the module call the core from C entry points where nothing may
// throw; parsing and validation report through this type instead.
#pragma once
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace tenant {

// One located error. `where` is a JSON pointer ("/tenants/site-a/ip_deny/2")
// for policy errors, a file name or a directive otherwise; `what` says what
// was wrong and what was expected.
struct Error {
  std::string where;
  std::string what;
  std::string str() const { return where.empty() ? what : where + ": " + what; }
};

template <class T, class E = Error>
class Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT implicit by design
  Result(E error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT
  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const E& error() const& { return std::get<1>(v_); }

 private:
  std::variant<T, E> v_;
};

using Errors = std::vector<Error>;

}  // namespace tenant
