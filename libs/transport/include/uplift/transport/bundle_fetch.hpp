// Downloading a bundle with verification as it arrives: the head is fetched and authenticated
// first; then every payload chunk is checked against the signed chunk index before it is
// written, and a chunk that fails is fetched again alone. The output is byte for byte the
// bundle on the server.
#pragma once

#include <cstdint>
#include <functional>

#include "uplift/base/io.hpp"
#include "uplift/base/range_source.hpp"
#include "uplift/format/bundle_reader.hpp"

namespace uplift::transport {

struct FetchOptions {
  format::VerifyOptions verify;  // trust null: signatures are not checked (inspection)
  int max_chunk_attempts = 3;
  std::function<void(std::uint64_t done, std::uint64_t total)> progress;  // bundle bytes
};

struct FetchReport {
  std::uint64_t bundle_size = 0;
  std::uint64_t chunks = 0;
  std::uint64_t refetched_chunks = 0;
  std::uint64_t refetched_bytes = 0;
};

// Errors: the head's (format::Errc), a chunk that stays corrupt after max_chunk_attempts
// re-reads (kHashMismatch naming payload and chunk), the source's (transport::Errc,
// base::Errc::kUnavailable / kSourceChanged), and the sink's.
Result<FetchReport> FetchBundle(RangeSource& src, const FetchOptions& options, ByteSink& out);

}  // namespace uplift::transport
