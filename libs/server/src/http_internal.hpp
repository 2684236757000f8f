// Response serialisation shared by the server and its unit tests; Beast-free, so the rules for
// what a handler may put on the wire are tested without a socket.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "uplift/server/http.hpp"

namespace uplift::server::detail {

// "Not Found" for 404; "Unknown" for codes without a registered phrase.
std::string_view ReasonPhrase(int status);

// Statuses a handler may return; anything else (1xx included) is answered as 500.
bool IsValidFinalStatus(int status);

// 1xx, 204 and 304 carry no body and no Content-Length (RFC 9110 §6.4.1, §8.6).
bool StatusHasBody(int status);

// True when the handler set "Connection: close" (the server then closes after the response).
bool HandlerRequestsClose(const std::vector<HttpHeader>& headers);

enum class ConnectionHeader { kNone, kClose, kKeepAlive };

// Appends the status line and header block ending in the blank line. The server owns Date,
// Server, Content-Length, Transfer-Encoding and Connection: a handler's own are dropped, as are
// headers whose name is not a token or whose value holds CR, LF or NUL (no response splitting).
// `content_length` is written when set (HEAD announces the length it does not send).
void AppendResponseHead(std::string& out, int status, const std::vector<HttpHeader>& headers,
                        std::optional<std::uint64_t> content_length, ConnectionHeader connection,
                        std::string_view date);

// Appends `text` as the contents of a JSON string: quotes, backslashes and control characters
// escaped, invalid UTF-8 replaced by U+FFFD, so the result is always valid JSON.
void AppendJsonEscaped(std::string& out, std::string_view text);

}  // namespace uplift::server::detail
