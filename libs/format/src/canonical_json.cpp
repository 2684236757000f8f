#include "uplift/format/canonical_json.hpp"

#include <cstdio>
#include <cstdlib>

namespace uplift::format {
namespace {

// Bounds nesting before handing bytes to the parser, so no later recursion can run deep.
bool DepthWithin(ByteView bytes, int max_depth) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (const std::uint8_t c : bytes) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

Status CheckValue(const Json& v, const std::string& path) {
  switch (v.type()) {
    case Json::value_t::number_float:
      return Error(Errc::kMalformedManifest, path + ": only integers are allowed");
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: {
      const bool in_range = v.is_number_unsigned() ? v.get<std::uint64_t>() <=
                                                         static_cast<std::uint64_t>(kMaxJsonInteger)
                                                   : (v.get<std::int64_t>() >= -kMaxJsonInteger &&
                                                      v.get<std::int64_t>() <= kMaxJsonInteger);
      if (!in_range) return Error(Errc::kMalformedManifest, path + ": integer beyond 2^53-1");
      return Ok();
    }
    case Json::value_t::object:
      for (const auto& [key, child] : v.items()) {
        for (const char c : key) {
          if (static_cast<unsigned char>(c) >= 0x80) {
            return Error(Errc::kMalformedManifest, path + ": object keys must be ASCII");
          }
        }
        UPLIFT_TRY(CheckValue(child, path + "." + key));
      }
      return Ok();
    case Json::value_t::array: {
      std::size_t i = 0;
      for (const auto& child : v) {
        UPLIFT_TRY(CheckValue(child, path + "[" + std::to_string(i++) + "]"));
      }
      return Ok();
    }
    case Json::value_t::binary:
    case Json::value_t::discarded:
      return Error(Errc::kMalformedManifest, path + ": not JSON");
    default:
      return Ok();
  }
}

void AppendString(std::string& out, const std::string& s) {
  out += '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;  // everything else, including non-ASCII UTF-8, is written as is
        }
    }
  }
  out += '"';
}

void Append(std::string& out, const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      out += "null";
      break;
    case Json::value_t::boolean:
      out += v.get<bool>() ? "true" : "false";
      break;
    case Json::value_t::number_integer:
      out += std::to_string(v.get<std::int64_t>());
      break;
    case Json::value_t::number_unsigned:
      out += std::to_string(v.get<std::uint64_t>());
      break;
    case Json::value_t::string:
      AppendString(out, v.get_ref<const std::string&>());
      break;
    case Json::value_t::array: {
      out += '[';
      bool first = true;
      for (const auto& child : v) {
        if (!first) out += ',';
        first = false;
        Append(out, child);
      }
      out += ']';
      break;
    }
    case Json::value_t::object: {
      // nlohmann's object is a std::map: keys iterate in byte order, which for ASCII keys is
      // the UTF-16 code unit order JCS requires.
      out += '{';
      bool first = true;
      for (const auto& [key, child] : v.items()) {
        if (!first) out += ',';
        first = false;
        AppendString(out, key);
        out += ':';
        Append(out, child);
      }
      out += '}';
      break;
    }
    default:
      std::abort();  // floats and binary never reach here: CheckValue rejects them
  }
}

}  // namespace

Result<Json> ParseCanonicalJson(ByteView bytes, int max_depth) {
  if (!DepthWithin(bytes, max_depth)) {
    return Error(Errc::kMalformedManifest,
                 "JSON nested deeper than " + std::to_string(max_depth) + " levels");
  }
  Json value = Json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return Error(Errc::kMalformedManifest, "not valid JSON (or not UTF-8)");
  UPLIFT_TRY(CheckValue(value, "$"));
  const std::string canonical = CanonicalJson(value);
  if (AsBytes(canonical).size() != bytes.size() ||
      !std::equal(bytes.begin(), bytes.end(), AsBytes(canonical).begin())) {
    return Error(Errc::kNonCanonical,
                 "JSON is not in canonical form (RFC 8785: no whitespace, sorted keys, no "
                 "duplicates, minimal escapes)");
  }
  return value;
}

std::string CanonicalJson(const Json& value) {
  std::string out;
  Append(out, value);
  return out;
}

}  // namespace uplift::format
