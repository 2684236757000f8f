// Fuzzes the agent journal reader: a journal read from flash after a power cut or by a hostile
// hand must parse or be refused, never crash; a journal that parses re-encodes to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "uplift/format/journal.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const uplift::ByteView bytes(data, size);
  const auto j = uplift::format::ParseJournal(bytes);
  if (!j.ok()) return 0;
  const auto again = uplift::format::EncodeJournal(*j);
  if (!again.ok()) std::abort();  // the encoder must accept whatever the parser accepted
  if (*again != uplift::AsChars(bytes)) std::abort();  // canonical: one encoding per value
  return 0;
}
