// A whole model.npz built in memory and written at once: the plain form the streaming ModelWriter
// must equal (internal to cleanplate::io; io_tests compares the two).
#pragma once
#include <filesystem>

#include "cleanplate/io/model_file.hpp"

namespace cleanplate::io {

void append_frame(ModelFile& model, CodedFrame frame);
void write_model_file(const std::filesystem::path& path, const ModelFile& model);  // atomic

}  // namespace cleanplate::io
