// Readers for the two text formats of the time-series classification archives.
//
// UCR (UCR Time Series Archive 2018, `NAME_TRAIN.tsv` / `NAME_TEST.tsv`): one
// case per line, the class label first, then the values, tab (or comma)
// separated. Labels are numbers; classes are indexed in increasing label order.
//
// UEA / sktime `.ts` (`NAME_TRAIN.ts` / `NAME_TEST.ts`): `#` comments, `@tag`
// header lines (@problemName, @timeStamps, @missing, @univariate, @dimensions,
// @equalLength, @seriesLength, @classLabel true LABELS..., @data), then one case
// per line: the dimensions separated by `:`, values by `,`, the class label
// last. Classes are indexed in the order @classLabel lists them.
//
// Missing values (`NaN` in UCR files, `?` in .ts files) are an error naming the
// file and line unless `missing = Interpolate`, which fills each gap linearly
// between its neighbours (and with the nearest value at the ends); a series
// with no value at all is always an error. Unequal lengths, time stamps and
// malformed lines are errors naming the file and line.
#pragma once
#include <filesystem>
#include <string>
#include <utility>

#include "leaves/data/dataset.h"

namespace leaves::data {

enum class MissingValues { Error, Interpolate };
MissingValues parse_missing_values(const std::string& name);

/// Reads one UCR `.tsv` file. `class_labels` (sorted numeric labels) fixes the
/// class indexing; empty means "the labels found in this file".
Dataset read_ucr_file(const std::filesystem::path& file, MissingValues missing = MissingValues::Error,
                      std::vector<double> class_labels = {});

/// Reads one UEA `.ts` file.
Dataset read_uea_file(const std::filesystem::path& file, MissingValues missing = MissingValues::Error);

/// Reads `DIR/NAME_TRAIN.EXT` and `DIR/NAME_TEST.EXT` (NAME = the folder's name)
/// with one class indexing for both. Returns {train, test}.
std::pair<Dataset, Dataset> read_ucr_archive(const std::filesystem::path& dir, MissingValues missing);
std::pair<Dataset, Dataset> read_uea_archive(const std::filesystem::path& dir, MissingValues missing);

}  // namespace leaves::data
