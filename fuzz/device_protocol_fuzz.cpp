// Fuzzes the device API body decoders: every body a device or a server receives must decode or
// be refused with kMalformedMessage, never crash; whatever decodes re-encodes to a body that
// decodes to the same value (the encoders never emit what a decoder refuses).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "uplift/format/device_protocol.hpp"
#include "uplift/format/errors.hpp"

namespace {

template <typename T, typename Decode, typename Encode>
void Check(uplift::ByteView bytes, Decode decode, Encode encode) {
  const uplift::Result<T> r = decode(bytes);
  if (!r.ok()) {
    if (!r.error().Is(uplift::format::Errc::kMalformedMessage)) std::abort();
    return;
  }
  const std::string again = encode(*r);
  const uplift::Result<T> back = decode(uplift::AsBytes(again));
  if (!back.ok() || !(*back == *r)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace f = uplift::format;
  const uplift::ByteView bytes(data, size);
  Check<f::EnrollRequest>(bytes, f::DecodeEnrollRequest, f::EncodeEnrollRequest);
  Check<f::EnrollResponse>(bytes, f::DecodeEnrollResponse, f::EncodeEnrollResponse);
  Check<f::Inventory>(bytes, f::DecodeCheckin, f::EncodeCheckin);
  Check<f::CheckinResponse>(bytes, f::DecodeCheckinResponse, f::EncodeCheckinResponse);
  Check<std::vector<f::Report>>(bytes, f::DecodeReports, f::EncodeReports);
  Check<std::vector<std::string>>(bytes, f::DecodeAccepted, f::EncodeAccepted);
  Check<f::ApiError>(bytes, f::DecodeApiError, f::EncodeApiError);
  return 0;
}
