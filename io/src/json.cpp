#include "cleanplate/io/json.hpp"

#include <cmath>
#include <cstdio>

namespace cleanplate::io {

std::string json_quote(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') out += '\\', out += static_cast<char>(c);
    else if (c < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
      out += buffer;
    } else out += static_cast<char>(c);
  }
  return out + "\"";
}

namespace {
std::string number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.6g", value);
  return std::isfinite(value) ? buffer : "null";
}

template <class T, class Format>
std::string array(const std::vector<T>& values, Format format) {
  std::string out = "[";
  for (std::size_t i = 0; i < values.size(); ++i) out.append(i ? ", " : "").append(format(values[i]));
  return out + "]";
}
}  // namespace

JsonObject& JsonObject::add(const std::string& key, double value) {
  members_.emplace_back(key, number(value));
  return *this;
}
JsonObject& JsonObject::add(const std::string& key, const std::vector<double>& values) {
  members_.emplace_back(key, array(values, number));
  return *this;
}
JsonObject& JsonObject::add(const std::string& key, const std::vector<std::string>& values) {
  members_.emplace_back(key, array(values, json_quote));
  return *this;
}
JsonObject& JsonObject::add(const std::string& key, const std::vector<JsonObject>& values) {
  members_.emplace_back(key, array(values, [](const JsonObject& o) { return o.str(-1); }));
  return *this;
}
JsonObject& JsonObject::add(const std::string& key, long value) {
  members_.emplace_back(key, std::to_string(value));
  return *this;
}
JsonObject& JsonObject::add(const std::string& key, bool value) {
  members_.emplace_back(key, value ? "true" : "false");
  return *this;
}
JsonObject& JsonObject::add(const std::string& key, const std::string& value) {
  members_.emplace_back(key, json_quote(value));
  return *this;
}
JsonObject& JsonObject::add(const std::string& key, const JsonObject& value) {
  members_.emplace_back(key, value.str(-1));  // nested objects are serialized when added, on one line
  return *this;
}

std::string JsonObject::str(int indent) const {
  const bool pretty = indent >= 0;
  const std::string pad(pretty ? indent + 2 : 0, ' ');
  std::string out = "{";
  for (std::size_t i = 0; i < members_.size(); ++i) {
    if (i) out.append(",");
    out.append(pretty ? "\n" : " ").append(pad).append(json_quote(members_[i].first)).append(": ").append(members_[i].second);
  }
  if (pretty) out.append("\n").append(std::string(indent, ' '));
  else out.append(" ");
  out.append("}");
  return out;
}

}  // namespace cleanplate::io
