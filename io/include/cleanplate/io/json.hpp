// A small JSON object builder for summaries: keys keep their insertion order.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace cleanplate::io {

class JsonObject {
 public:
  JsonObject& add(const std::string& key, double value);
  JsonObject& add(const std::string& key, long value);
  JsonObject& add(const std::string& key, int value) { return add(key, static_cast<long>(value)); }
  JsonObject& add(const std::string& key, bool value);
  JsonObject& add(const std::string& key, const std::string& value);
  JsonObject& add(const std::string& key, const char* value) { return add(key, std::string(value)); }
  JsonObject& add(const std::string& key, const JsonObject& value);
  JsonObject& add(const std::string& key, const std::vector<double>& values);
  JsonObject& add(const std::string& key, const std::vector<std::string>& values);
  JsonObject& add(const std::string& key, const std::vector<JsonObject>& values);
  std::string str(int indent = 0) const;

 private:
  std::vector<std::pair<std::string, std::string>> members_;  // key, serialized value
};

std::string json_quote(const std::string& text);

}  // namespace cleanplate::io
