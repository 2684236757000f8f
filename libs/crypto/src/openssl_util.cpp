#include "openssl_util.hpp"

#include <openssl/err.h>

#include <climits>

namespace uplift::crypto::internal {

Error OpensslError(Errc code, std::string_view what) {
  std::string message(what);
  if (code == Errc::kInternal) {
    const unsigned long err = ERR_peek_last_error();
    if (err != 0) {
      char buf[256];
      ERR_error_string_n(err, buf, sizeof(buf));
      message += ": ";
      message += buf;
    }
  }
  ERR_clear_error();
  return Error(code, std::move(message));
}

void ClearOpensslErrors() { ERR_clear_error(); }

BioPtr MemoryBio(ByteView data) {
  if (data.size() > static_cast<std::size_t>(INT_MAX)) return nullptr;
  return BioPtr(BIO_new_mem_buf(InputPtr(data), static_cast<int>(data.size())));
}

std::string DrainBio(BIO* bio) {
  char* data = nullptr;
  // BIO_get_mem_data is a macro with a C cast; this is its expansion.
  const long len = BIO_ctrl(bio, BIO_CTRL_INFO, 0, &data);
  if (len <= 0 || data == nullptr) return {};
  return std::string(data, static_cast<std::size_t>(len));
}

void* InputPtr(ByteView data) {
  static std::uint8_t empty = 0;
  if (data.empty()) return &empty;
  return const_cast<std::uint8_t*>(data.data());
}

}  // namespace uplift::crypto::internal
