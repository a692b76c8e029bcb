// JSON for summaries and eval results, through nlohmann-json: `Json` keeps keys in insertion order;
// write_json writes atomically (non-finite numbers become null); read_json reads a summary back.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>

namespace cleanplate::io {

using Json = nlohmann::ordered_json;

void write_json(const std::filesystem::path& path, const Json& json);  // indented, atomically
Json read_json(const std::filesystem::path& path);                     // throws Error with the reason

}  // namespace cleanplate::io
