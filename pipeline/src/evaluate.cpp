#include "cleanplate/pipeline/evaluate.hpp"

#include <chrono>
#include <cstdio>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/video/background_segm.hpp>

#include "cleanplate/error.hpp"
#include "cleanplate/io/json.hpp"
#include "cleanplate/io/atomic_file.hpp"
#include "cleanplate/io/video_sink.hpp"
#include "cleanplate/io/video_source.hpp"
#include "cleanplate/pipeline/interrupt.hpp"

namespace cleanplate::pipeline {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

void add_frame(stages::ConfusionCounts& counts, cv::Mat mask, const io::CdnetSequence& sequence, long number) {
  const cv::Mat labels = sequence.labels(number);
  if (mask.size() != labels.size()) cv::resize(mask, mask, labels.size(), 0, 0, cv::INTER_NEAREST);
  counts.add(mask, labels, sequence.roi);
}

// OpenCV's subtractor over every frame in order (it learns as it goes), scored inside the ROI.
EvaluationRow run_opencv(const std::string& name, cv::Ptr<cv::BackgroundSubtractor> subtractor, const io::CdnetSequence& sequence) {
  EvaluationRow row{name, {}, 0, 0};
  io::VideoSource source(sequence.input.string());
  const auto started = Clock::now();
  cv::Mat mask;
  while (auto frame = source.next()) {
    if (interrupted()) throw Error("interrupted");
    subtractor->apply(frame->image, mask);
    const long number = frame->index + 1;
    ++row.frames;
    if (number < sequence.first || number > sequence.last) continue;
    add_frame(row.counts, mask == 255, sequence, number);  // 127 is MOG2's and KNN's shadow: background
  }
  row.seconds = seconds_since(started);
  return row;
}

void write_bar_chart(const fs::path& path, const std::vector<EvaluationRow>& rows) {
  const int bar = 60, gap = 30, height = 360, top = 40, base = height - 50;
  cv::Mat chart(height, gap + static_cast<int>(rows.size()) * (bar + gap), CV_8UC3, cv::Scalar(255, 255, 255));
  cv::putText(chart, "F-measure", {10, 25}, cv::FONT_HERSHEY_SIMPLEX, 0.6, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const double f = rows[i].counts.f_measure();
    const int x = gap + static_cast<int>(i) * (bar + gap), y = base - static_cast<int>(f * (base - top));
    const bool ours = rows[i].name.rfind("cleanplate", 0) == 0;
    cv::rectangle(chart, {x, y}, {x + bar, base}, ours ? cv::Scalar(180, 120, 30) : cv::Scalar(150, 150, 150), cv::FILLED);
    char value[16];
    std::snprintf(value, sizeof value, "%.3f", f);
    cv::putText(chart, value, {x + 5, y - 6}, cv::FONT_HERSHEY_SIMPLEX, 0.45, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
    cv::putText(chart, rows[i].name.substr(0, 14), {x - 10, base + 20 + 15 * static_cast<int>(i % 2)}, cv::FONT_HERSHEY_SIMPLEX, 0.4,
                cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  }
  cv::line(chart, {gap / 2, base}, {chart.cols - gap / 2, base}, cv::Scalar(0, 0, 0));
  io::write_png(path, chart);
}

}  // namespace

stages::ConfusionCounts score_mask_folder(const fs::path& folder, const io::CdnetSequence& sequence) {
  stages::ConfusionCounts counts;
  char name[32];
  for (long number = sequence.first; number <= sequence.last; ++number) {
    std::snprintf(name, sizeof name, "bin%06ld.png", number);
    const cv::Mat mask = cv::imread((folder / name).string(), cv::IMREAD_GRAYSCALE);
    if (mask.empty()) throw Error("cannot score '" + folder.string() + "': mask " + name + " is missing or unreadable");
    add_frame(counts, mask, sequence, number);
  }
  return counts;
}

std::string format_table(const std::vector<EvaluationRow>& rows) {
  std::string table = "method                 Recall  Specif.     FPR     FNR     PWC  Precis.  F-measure     fps\n";
  char line[160];
  for (const auto& r : rows) {
    const auto& c = r.counts;
    std::snprintf(line, sizeof line, "%-20s %8.4f %8.4f %7.4f %7.4f %7.3f %8.4f %10.4f %7.1f\n", r.name.c_str(), c.recall(), c.specificity(),
                  c.false_positive_rate(), c.false_negative_rate(), c.percentage_wrong(), c.precision(), c.f_measure(),
                  r.seconds > 0 ? r.frames / r.seconds : 0.0);
    table += line;
  }
  return table;
}

EvaluateResult evaluate(const EvaluateOptions& options) {
  const io::CdnetSequence sequence = io::open_cdnet_sequence(options.sequence);
  std::error_code error;
  fs::create_directories(options.output, error);
  if (error || !fs::is_directory(options.output)) throw Error("cannot create output folder '" + options.output.string() + "'");

  EvaluateResult result;
  for (const stages::Method method : options.methods) {
    SeparateOptions separate_options = options.separate;
    separate_options.input = sequence.input.string();
    separate_options.method = method;
    separate_options.output = options.output / (std::string("cleanplate-") + method_name(method));
    separate_options.outputs = {.background = false, .foreground = false, .mask = false, .model = false, .png = true};
    const auto started = Clock::now();
    const SeparateResult separated = separate(separate_options);
    if (separated.interrupted) throw Error("interrupted");
    result.rows.push_back({std::string("cleanplate ") + method_name(method), score_mask_folder(separate_options.output / "masks", sequence),
                           seconds_since(started), separated.frames});
  }
  if (options.opencv) {
    result.rows.push_back(run_opencv("opencv MOG2", cv::createBackgroundSubtractorMOG2(), sequence));
    result.rows.push_back(run_opencv("opencv KNN", cv::createBackgroundSubtractorKNN(), sequence));
  }
  for (const auto& folder : options.mask_folders) result.rows.push_back({folder.string(), score_mask_folder(folder, sequence), 0, 0});

  std::string csv = "method,recall,specificity,fpr,fnr,pwc,precision,f_measure,frames,seconds\n";
  std::vector<io::JsonObject> json_rows;
  for (const auto& r : result.rows) {
    const auto& c = r.counts;
    char line[256];
    std::snprintf(line, sizeof line, "%s,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%ld,%.3f\n", r.name.c_str(), c.recall(), c.specificity(),
                  c.false_positive_rate(), c.false_negative_rate(), c.percentage_wrong(), c.precision(), c.f_measure(), r.frames, r.seconds);
    csv += line;
    io::JsonObject row;
    row.add("method", r.name).add("recall", c.recall()).add("specificity", c.specificity()).add("fpr", c.false_positive_rate())
        .add("fnr", c.false_negative_rate()).add("pwc", c.percentage_wrong()).add("precision", c.precision()).add("f_measure", c.f_measure())
        .add("frames", r.frames).add("seconds", r.seconds);
    json_rows.push_back(row);
  }
  io::JsonObject json;
  json.add("sequence", options.sequence.string())
      .add("temporal_roi", std::vector<double>{static_cast<double>(sequence.first), static_cast<double>(sequence.last)})
      .add("results", json_rows);
  io::write_file_atomically(options.output / "eval.csv", csv);
  io::write_file_atomically(options.output / "eval.json", json.str() + "\n");
  write_bar_chart(options.output / "f_measure.png", result.rows);
  result.files = {"eval.csv", "eval.json", "f_measure.png"};
  return result;
}

}  // namespace cleanplate::pipeline
