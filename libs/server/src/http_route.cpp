#include "uplift/server/http_route.hpp"

#include <algorithm>

#include "uplift/base/errors.hpp"

namespace uplift::server {
namespace {

char LowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (LowerAscii(s[i]) != prefix[i]) return false;
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

Error InvalidPattern(std::string_view pattern, std::string_view why) {
  return Error(base::Errc::kInvalidArgument,
               "route pattern \"" + std::string(pattern) + "\": " + std::string(why));
}

}  // namespace

std::optional<TargetParts> SplitTarget(std::string_view target) {
  if (target.empty()) return std::nullopt;
  std::string_view rest = target;
  if (target.front() != '/') {
    std::size_t scheme = 0;
    if (StartsWithIgnoreCase(target, "http://")) {
      scheme = 7;
    } else if (StartsWithIgnoreCase(target, "https://")) {
      scheme = 8;
    } else {
      return std::nullopt;
    }
    const std::string_view after = target.substr(scheme);
    const std::size_t end = after.find_first_of("/?");
    if (end == 0) return std::nullopt;  // no authority
    if (end == std::string_view::npos) return TargetParts{"/", ""};
    if (after[end] == '?') return TargetParts{"/", after.substr(end + 1)};
    rest = after.substr(end);
  }
  const std::size_t q = rest.find('?');
  if (q == std::string_view::npos) return TargetParts{rest, ""};
  return TargetParts{rest.substr(0, q), rest.substr(q + 1)};
}

std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (text.size() - i < 3) return std::nullopt;
      const int hi = HexValue(text[i + 1]);
      const int lo = HexValue(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<std::string> FindQueryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    const std::string_view raw_key = pair.substr(0, eq);
    const std::string_view raw_value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    bool key_matches = false;
    if (raw_key.find_first_of("%+") == std::string_view::npos) {
      key_matches = raw_key == name;
    } else {
      const auto key = PercentDecode(raw_key, true);
      key_matches = key && *key == name;
    }
    if (key_matches) return PercentDecode(raw_value, true);
  }
  return std::nullopt;
}

Result<RoutePattern> RoutePattern::Parse(std::string_view pattern) {
  if (pattern.empty() || pattern.front() != '/') {
    return InvalidPattern(pattern, "must start with '/'");
  }
  RoutePattern p;
  std::string_view rest = pattern.substr(1);
  for (;;) {
    const std::size_t slash = rest.find('/');
    const std::string_view seg = rest.substr(0, slash);
    Segment s;
    if (!seg.empty() && seg.front() == '{') {
      if (seg.size() < 3 || seg.back() != '}') return InvalidPattern(pattern, "bad {name}");
      const std::string_view name = seg.substr(1, seg.size() - 2);
      if (!std::all_of(name.begin(), name.end(), IsNameChar)) {
        return InvalidPattern(pattern, "parameter names are [A-Za-z0-9_]+");
      }
      for (const Segment& other : p.segments_) {
        if (other.is_param && other.text == name) {
          return InvalidPattern(pattern, "repeated parameter name");
        }
      }
      s.is_param = true;
      s.text = std::string(name);
    } else {
      if (seg.find_first_of("{}") != std::string_view::npos) {
        return InvalidPattern(pattern, "'{' or '}' inside a literal segment");
      }
      s.text = std::string(seg);
    }
    p.segments_.push_back(std::move(s));
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  return p;
}

bool RoutePattern::Match(std::string_view path, RouteParams* params) const {
  if (path.empty() || path.front() != '/') return false;
  std::size_t pos = 1;
  for (const Segment& s : segments_) {
    if (pos > path.size()) return false;  // the path has fewer segments
    std::size_t end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view seg = path.substr(pos, end - pos);
    if (s.is_param ? seg.empty() : seg != s.text) return false;
    pos = end + 1;
  }
  if (pos != path.size() + 1) return false;  // the path has more segments
  if (params != nullptr) {
    params->clear();
    pos = 1;
    for (const Segment& s : segments_) {
      std::size_t end = path.find('/', pos);
      if (end == std::string_view::npos) end = path.size();
      if (s.is_param) params->emplace_back(s.text, std::string(path.substr(pos, end - pos)));
      pos = end + 1;
    }
  }
  return true;
}

Status Router::Add(std::string_view method, std::string_view pattern) {
  if (method.empty()) return InvalidPattern(pattern, "empty method");
  UPLIFT_ASSIGN(RoutePattern parsed, RoutePattern::Parse(pattern));
  for (const Entry& e : routes_) {
    if (e.method == method && e.pattern_text == pattern) {
      return InvalidPattern(pattern, "registered twice for " + std::string(method));
    }
  }
  routes_.push_back({std::string(method), std::string(pattern), std::move(parsed)});
  return Ok();
}

Router::Match Router::Find(std::string_view method, std::string_view path,
                           RouteParams* params) const {
  bool path_known = false;
  std::optional<std::size_t> get_for_head;
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    const Entry& e = routes_[i];
    if (!e.pattern.Match(path, nullptr)) continue;
    path_known = true;
    if (e.method == method) {
      e.pattern.Match(path, params);
      return {Outcome::kFound, i};
    }
    if (!get_for_head && method == "HEAD" && e.method == "GET") get_for_head = i;
  }
  if (get_for_head) {
    routes_[*get_for_head].pattern.Match(path, params);
    return {Outcome::kFound, *get_for_head};
  }
  return {path_known ? Outcome::kMethodNotAllowed : Outcome::kNotFound, 0};
}

std::string Router::AllowedMethods(std::string_view path) const {
  std::vector<std::string_view> methods;
  for (const Entry& e : routes_) {
    if (!e.pattern.Match(path, nullptr)) continue;
    methods.push_back(e.method);
    if (e.method == "GET") methods.push_back("HEAD");
  }
  std::sort(methods.begin(), methods.end());
  methods.erase(std::unique(methods.begin(), methods.end()), methods.end());
  std::string out;
  for (const std::string_view m : methods) {
    if (!out.empty()) out += ", ";
    out += m;
  }
  return out;
}

}  // namespace uplift::server
