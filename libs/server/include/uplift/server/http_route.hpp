// The Beast-free half of request routing: splitting a request-target, percent-decoding, query
// parameters and route patterns. Pure functions over untrusted text (fuzzed together with the
// range parser in fuzz/http_range_fuzz.cpp).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "uplift/base/result.hpp"

namespace uplift::server {

using RouteParams = std::vector<std::pair<std::string, std::string>>;

struct TargetParts {
  std::string_view path;   // starts with '/', not decoded
  std::string_view query;  // after the first '?', "" if none
};
// Origin-form ("/p?q") or absolute-form ("http://host/p?q", the path defaulting to "/");
// nullopt for anything else ("*", authority-form, an empty target).
std::optional<TargetParts> SplitTarget(std::string_view target);

// %XX escapes decoded (and '+' as a space when plus_is_space, for query components); nullopt for
// a '%' not followed by two hex digits. The result is never longer than the input.
std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space);

// The value of the first `name` parameter in an application/x-www-form-urlencoded query, decoded
// ("" for "name" without '='); nullopt when absent or when its encoding is malformed.
std::optional<std::string> FindQueryParam(std::string_view query, std::string_view name);

// "/api/v1/releases/{id}/artifacts": literal segments matched byte for byte against the raw
// path, {name} segments matching one non-empty segment.
class RoutePattern {
 public:
  // base::Errc::kInvalidArgument for a pattern not starting with '/', a '{' or '}' outside a
  // whole-segment parameter, an empty or non-[A-Za-z0-9_] name, or a repeated name.
  [[nodiscard]] static Result<RoutePattern> Parse(std::string_view pattern);
  // True if `path` matches; then `params` (if not null) receives the {name} segments in order.
  bool Match(std::string_view path, RouteParams* params) const;
  std::size_t segment_count() const { return segments_.size(); }

 private:
  struct Segment {
    bool is_param = false;
    std::string text;  // the literal, or the parameter's name
  };
  std::vector<Segment> segments_;
};

// A route table: method + pattern, looked up by index. HEAD is served by GET routes unless a
// HEAD route matches first.
class Router {
 public:
  enum class Outcome { kFound, kNotFound, kMethodNotAllowed };
  struct Match {
    Outcome outcome = Outcome::kNotFound;
    std::size_t index = 0;  // into the routes as added, for kFound
  };

  // base::Errc::kInvalidArgument for an invalid pattern, an empty method, or a method + pattern
  // that is already in the table.
  [[nodiscard]] Status Add(std::string_view method, std::string_view pattern);
  Match Find(std::string_view method, std::string_view path, RouteParams* params) const;
  // "GET, HEAD, POST": the methods some route accepts for `path` (for 405's Allow header).
  std::string AllowedMethods(std::string_view path) const;
  std::size_t size() const { return routes_.size(); }

 private:
  struct Entry {
    std::string method;
    std::string pattern_text;
    RoutePattern pattern;
  };
  std::vector<Entry> routes_;
};

}  // namespace uplift::server
