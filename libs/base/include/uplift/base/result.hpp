// The one result type of the project: a value or an Error.
//
// Error codes are per module (an enum class per module, registered with UPLIFT_ERROR_DOMAIN).
// Codes that reach exit codes or the server are fixed numbers and are never renumbered.
#pragma once

#include <cstdlib>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace uplift {

// Maps a module's error enum to a short domain name ("base", "crypto", "format", ...).
template <typename E>
struct ErrorDomainOf;

// Use at global scope, after the enum's namespace is closed.
#define UPLIFT_ERROR_DOMAIN(Enum, name)             \
  namespace uplift {                                \
  template <>                                       \
  struct ErrorDomainOf<Enum> {                      \
    static constexpr std::string_view kName = name; \
  };                                                \
  }

class [[nodiscard]] Error {
 public:
  Error(std::string_view domain, int code, std::string message)
      : domain_(domain), code_(code), message_(std::move(message)) {}

  template <typename E, typename = decltype(ErrorDomainOf<E>::kName)>
  Error(E code, std::string message)  // NOLINT(google-explicit-constructor)
      : Error(ErrorDomainOf<E>::kName, static_cast<int>(code), std::move(message)) {}

  std::string_view domain() const { return domain_; }
  int code() const { return code_; }
  const std::string& message() const { return message_; }

  template <typename E>
  bool Is(E code) const {
    return domain_ == ErrorDomainOf<E>::kName && code_ == static_cast<int>(code);
  }

  // Prepends what the caller was doing: "reading bundle: manifest: unexpected end".
  Error&& Context(std::string_view what) && {
    message_ = std::string(what) + ": " + message_;
    return std::move(*this);
  }

 private:
  std::string_view domain_;  // always a string literal
  int code_;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return Check(), std::get<0>(v_); }
  const T& value() const& { return Check(), std::get<0>(v_); }
  T&& value() && { return Check(), std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  void Check() const {
    if (!ok()) std::abort();  // a broken invariant: value() on an error
  }
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : err_(std::move(error)), has_error_(true) {}  // NOLINT

  bool ok() const { return !has_error_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const& { return err_; }
  Error&& error() && { return std::move(err_); }

 private:
  Error err_{"", 0, {}};
  bool has_error_ = false;
};

using Status = Result<void>;

inline Status Ok() { return {}; }

}  // namespace uplift

#define UPLIFT_CONCAT_INNER(a, b) a##b
#define UPLIFT_CONCAT(a, b) UPLIFT_CONCAT_INNER(a, b)

// UPLIFT_TRY(expr): returns the error of a Status/Result expression from the enclosing function.
#define UPLIFT_TRY(expr)                                              \
  do {                                                                \
    auto&& uplift_try_r_ = (expr);                                    \
    if (!uplift_try_r_.ok()) return std::move(uplift_try_r_).error(); \
  } while (0)

// UPLIFT_ASSIGN(decl, expr): `decl = value of expr`, or return its error.
#define UPLIFT_ASSIGN(decl, expr) UPLIFT_ASSIGN_IMPL(UPLIFT_CONCAT(uplift_r_, __LINE__), decl, expr)
#define UPLIFT_ASSIGN_IMPL(tmp, decl, expr)     \
  auto tmp = (expr);                            \
  if (!tmp.ok()) return std::move(tmp).error(); \
  decl = std::move(tmp).value()
