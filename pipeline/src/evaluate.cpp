#include "cleanplate/pipeline/evaluate.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/video/background_segm.hpp>

#include "cleanplate/error.hpp"
#include "cleanplate/io/atomic_file.hpp"
#include "cleanplate/io/json.hpp"
#include "cleanplate/io/video_sink.hpp"
#include "cleanplate/io/video_source.hpp"
#include "cleanplate/pipeline/interrupt.hpp"
#include "cleanplate/pipeline/live.hpp"

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
EvaluationRow run_opencv(const std::string& name, cv::Ptr<cv::BackgroundSubtractor> subtractor,
                         const io::CdnetSequence& sequence) {
  EvaluationRow row{sequence.name(), name, {}, 0, 0};
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

// F-measure bars: one group per sequence (and one for the means when there are several), one bar
// per method, cleanplate's in blue, OpenCV's in grey, with a legend of the methods.
void write_bar_chart(const fs::path& path, const EvaluateResult& result) {
  std::vector<std::string> groups;
  for (const auto& r : result.rows)
    if (std::find(groups.begin(), groups.end(), r.sequence) == groups.end()) groups.push_back(r.sequence);
  const bool with_mean = groups.size() > 1;
  if (with_mean) groups.push_back("mean");
  const int methods = static_cast<int>(result.means.size()), bar = 22, gap = 24, height = 380, top = 40,
            base = height - 60;
  const int group_width = methods * bar + gap;
  cv::Mat chart(height, gap + static_cast<int>(groups.size()) * group_width + 170, CV_8UC3, cv::Scalar(255, 255, 255));
  cv::putText(chart, "F-measure", {10, 25}, cv::FONT_HERSHEY_SIMPLEX, 0.6, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  const auto colour = [&](int m) {
    const bool ours = result.means[static_cast<std::size_t>(m)].name.rfind("cleanplate", 0) == 0;
    const double shade = 1 - 0.5 * m / std::max(1, methods - 1);
    return ours ? cv::Scalar(200 * shade, 130 * shade, 30) : cv::Scalar(170 * shade, 170 * shade, 170 * shade);
  };
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const int x0 = gap + static_cast<int>(g) * group_width;
    for (int m = 0; m < methods; ++m) {
      const auto& name = result.means[static_cast<std::size_t>(m)].name;
      double f = -1;
      if (with_mean && g + 1 == groups.size()) f = result.means[static_cast<std::size_t>(m)].f_measure;
      for (const auto& r : result.rows)
        if (r.sequence == groups[g] && r.name == name) f = r.counts.f_measure();
      if (f < 0) continue;
      const int x = x0 + m * bar, y = base - static_cast<int>(f * (base - top));
      cv::rectangle(chart, {x, y}, {x + bar - 2, base}, colour(m), cv::FILLED);
    }
    cv::putText(chart, groups[g].substr(0, 12), {x0, base + 18 + 14 * static_cast<int>(g % 2)},
                cv::FONT_HERSHEY_SIMPLEX, 0.4, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  }
  for (int m = 0; m < methods; ++m) {  // legend with the mean F of each method
    const int x = chart.cols - 165, y = top + 18 * m;
    cv::rectangle(chart, {x, y}, {x + 12, y + 12}, colour(m), cv::FILLED);
    char label[64];
    std::snprintf(label, sizeof label, "%s %.3f", result.means[static_cast<std::size_t>(m)].name.c_str(),
                  result.means[static_cast<std::size_t>(m)].f_measure);
    cv::putText(chart, label, {x + 16, y + 11}, cv::FONT_HERSHEY_SIMPLEX, 0.38, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  }
  cv::line(chart, {gap / 2, base}, {chart.cols - 175, base}, cv::Scalar(0, 0, 0));
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
    add_frame(counts, mask == 255, sequence, number);  // 127 is a shadow: background, as CDnet scores its label 50
  }
  return counts;
}

std::string format_table(const EvaluateResult& result) {
  std::string table =
      "sequence         method                 Recall  Specif.     FPR     FNR     PWC  Precis.  F-measure     fps\n";
  char line[200];
  for (const auto& r : result.rows) {
    const auto& c = r.counts;
    std::snprintf(line, sizeof line, "%-16s %-20s %8.4f %8.4f %7.4f %7.4f %7.3f %8.4f %10.4f %7.1f\n",
                  r.sequence.substr(0, 16).c_str(), r.name.c_str(), c.recall(), c.specificity(),
                  c.false_positive_rate(), c.false_negative_rate(), c.percentage_wrong(), c.precision(), c.f_measure(),
                  r.seconds > 0 ? r.frames / r.seconds : 0.0);
    table += line;
  }
  if (result.rows.size() > result.means.size()) {
    table += "\nmean F-measure over the sequences\n";
    for (const auto& m : result.means) {
      std::snprintf(line, sizeof line, "%-20s %10.4f %7.1f fps\n", m.name.c_str(), m.f_measure, m.fps);
      table += line;
    }
  }
  return table;
}

namespace {

// The online decomposer over every frame in order, as `cleanplate live --no-realtime --png` would.
EvaluationRow run_live(const EvaluateOptions& options, const io::CdnetSequence& sequence, const fs::path& output) {
  LiveOptions live_options;
  live_options.input = sequence.input.string();
  live_options.output = output;
  live_options.convert = options.separate.convert;
  live_options.online.rank = options.separate.rank;
  live_options.online.mask = options.separate.mask;
  live_options.realtime = false;
  live_options.png = true;
  live_options.progress = false;
  const auto started = Clock::now();
  const LiveResult result = live(live_options);
  if (result.ended == "interrupted") throw Error("interrupted");
  return {sequence.name(), "cleanplate live", score_mask_folder(output / "masks", sequence), seconds_since(started),
          result.frames_processed};
}

std::vector<EvaluationRow> evaluate_sequence(const EvaluateOptions& options, const io::CdnetSequence& sequence,
                                             const fs::path& output) {
  std::vector<EvaluationRow> rows;
  for (const stages::Method method : options.methods) {
    SeparateOptions separate_options = options.separate;
    separate_options.input = sequence.input.string();
    separate_options.method = method;
    separate_options.output = output / (std::string("cleanplate-") + method_name(method));
    separate_options.outputs = {.background = false, .foreground = false, .mask = false, .model = false, .png = true};
    const auto started = Clock::now();
    const SeparateResult separated = separate(separate_options);
    if (separated.interrupted) throw Error("interrupted");
    rows.push_back({sequence.name(), std::string("cleanplate ") + method_name(method),
                    score_mask_folder(separate_options.output / "masks", sequence), seconds_since(started),
                    separated.frames});
  }
  if (options.live) rows.push_back(run_live(options, sequence, output / "cleanplate-live"));
  if (options.opencv) {
    rows.push_back(run_opencv("opencv MOG2", cv::createBackgroundSubtractorMOG2(), sequence));
    rows.push_back(run_opencv("opencv KNN", cv::createBackgroundSubtractorKNN(), sequence));
  }
  for (const auto& folder : options.mask_folders)
    rows.push_back({sequence.name(), folder.string(), score_mask_folder(folder, sequence), 0, 0});
  return rows;
}

std::vector<MethodMean> method_means(const std::vector<EvaluationRow>& rows) {
  struct Sums {
    double f_measure = 0, sequences = 0, frames = 0, seconds = 0;
  };
  std::vector<std::string> names;  // in the rows' order
  std::map<std::string, Sums> sums;
  for (const auto& r : rows) {
    if (!sums.count(r.name)) names.push_back(r.name);
    Sums& sum = sums[r.name];
    sum.f_measure += r.counts.f_measure(), sum.sequences += 1, sum.frames += static_cast<double>(r.frames),
        sum.seconds += r.seconds;
  }
  std::vector<MethodMean> means;
  for (const auto& name : names) {
    const Sums& sum = sums[name];
    means.push_back({name, sum.f_measure / sum.sequences, sum.seconds > 0 ? sum.frames / sum.seconds : 0});
  }
  return means;
}

}  // namespace

EvaluateResult evaluate(const EvaluateOptions& options) {
  const std::vector<fs::path> folders = io::find_sequences(options.sequences);
  if (folders.size() > 1 && !options.mask_folders.empty())
    throw Error("--masks scores one sequence: give a single SEQUENCE with it");
  std::vector<io::CdnetSequence> sequences;  // all read first, so a broken one fails before hours of work
  for (const auto& folder : folders) sequences.push_back(io::open_cdnet_sequence(folder));
  std::error_code error;
  fs::create_directories(options.output, error);
  if (error || !fs::is_directory(options.output))
    throw Error("cannot create output folder '" + options.output.string() + "'");

  EvaluateResult result;
  for (const auto& sequence : sequences) {
    const fs::path output = sequences.size() > 1 ? options.output / sequence.name() : options.output;
    for (auto& row : evaluate_sequence(options, sequence, output)) result.rows.push_back(std::move(row));
  }
  result.means = method_means(result.rows);

  std::string csv = "sequence,method,recall,specificity,fpr,fnr,pwc,precision,f_measure,frames,seconds\n";
  io::Json json_rows = io::Json::array(), json_means = io::Json::array();
  for (const auto& r : result.rows) {
    const auto& c = r.counts;
    char line[320];
    std::snprintf(line, sizeof line, "%s,%s,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%ld,%.3f\n", r.sequence.c_str(),
                  r.name.c_str(), c.recall(), c.specificity(), c.false_positive_rate(), c.false_negative_rate(),
                  c.percentage_wrong(), c.precision(), c.f_measure(), r.frames, r.seconds);
    csv += line;
    json_rows.push_back({{"sequence", r.sequence},
                         {"method", r.name},
                         {"recall", c.recall()},
                         {"specificity", c.specificity()},
                         {"fpr", c.false_positive_rate()},
                         {"fnr", c.false_negative_rate()},
                         {"pwc", c.percentage_wrong()},
                         {"precision", c.precision()},
                         {"f_measure", c.f_measure()},
                         {"frames", r.frames},
                         {"seconds", r.seconds}});
  }
  for (const auto& m : result.means) {
    char line[160];
    std::snprintf(line, sizeof line, "mean,%s,,,,,,,%.6f,,\n", m.name.c_str(), m.f_measure);
    csv += line;
    json_means.push_back({{"method", m.name}, {"f_measure", m.f_measure}, {"fps", m.fps}});
  }
  std::vector<std::string> names;
  for (const auto& sequence : sequences) names.push_back(sequence.folder.string());
  const io::Json json = {{"sequences", names}, {"results", json_rows}, {"means", json_means}};
  io::write_file_atomically(options.output / "eval.csv", csv);
  io::write_json(options.output / "eval.json", json);
  write_bar_chart(options.output / "f_measure.png", result);
  result.files = {"eval.csv", "eval.json", "f_measure.png"};
  return result;
}

}  // namespace cleanplate::pipeline
