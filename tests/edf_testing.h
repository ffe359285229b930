// Test helper for writing EDF+ files with EDFlib.
#pragma once
#include <edflib.h>

namespace leaves::testing {

/// Declares signal `s` of the EDF file being written: `rate` samples per
/// second, +-200 uV over the full 16-bit digital range, and `label`.
inline void define_edf_signal(int handle, int s, int rate, const char* label) {
  edf_set_samplefrequency(handle, s, rate);
  edf_set_physical_maximum(handle, s, 200.0);
  edf_set_physical_minimum(handle, s, -200.0);
  edf_set_digital_maximum(handle, s, 32767);
  edf_set_digital_minimum(handle, s, -32768);
  edf_set_label(handle, s, label);
  edf_set_physical_dimension(handle, s, "uV");
}

}  // namespace leaves::testing
