#include "cleanplate/pipeline/live.hpp"

#include <oneapi/tbb/flow_graph.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <opencv2/highgui.hpp>
#include <opencv2/imgproc.hpp>
#include <optional>
#include <thread>

#include "cleanplate/error.hpp"
#include "cleanplate/io/atomic_file.hpp"
#include "cleanplate/io/json.hpp"
#include "cleanplate/io/video_sink.hpp"
#include "cleanplate/io/video_source.hpp"
#include "cleanplate/pipeline/interrupt.hpp"
#include "cleanplate/pipeline/progress.hpp"
#include "cleanplate/stages/preview.hpp"
#include "latency_histogram.hpp"
#include "mailbox.hpp"

namespace cleanplate::pipeline {
namespace fs = std::filesystem;
namespace flow = oneapi::tbb::flow;
using Clock = std::chrono::steady_clock;

namespace {

struct CapturedFrame {
  long index = 0;     // in the source, counting from the first frame read (dropped ones too)
  long sequence = 0;  // among the frames processed
  cv::Mat image;
  Clock::time_point captured;
};

// The flow graph copies messages between nodes: the backgrounds (8 MB at 1080p) are shared, as the
// cv::Mat images are, not copied.
struct ConvertedFrame {
  CapturedFrame frame;
  cv::Mat converted;  // 8-bit, the analysis geometry, continuous: the decomposer reads it as a column
};

struct SeparatedFrame {
  CapturedFrame frame;
  cv::Mat converted, mask;
  std::shared_ptr<const Eigen::VectorXf> background;  // made an image only for the outputs that show it
  bool warming_up = false;
};

// Sleeps up to `seconds`, waking early on an interrupt or `stop`.
void sleep_unless_stopped(double seconds, const std::atomic<bool>& stop) {
  const auto until = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < until && !interrupted() && !stop) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

class LiveRun {
 public:
  explicit LiveRun(const LiveOptions& options) : options_(options), source_(open_with_retries()) {
    live_source_ = source_->live();
    fps_ = source_->fps() > 0 ? source_->fps() : io::default_image_fps;
    result_.geometry = stages::geometry_for(source_->size(), options.convert);
    stages::OnlineOptions online = options.online;
    online.memory = std::max(1.0, options.memory_seconds * fps_);
    online.background = options.display || (!options.output.empty() && options.snapshot_every > 0);  // shown or saved
    online_.emplace(result_.geometry, online);
    if (!options.output.empty()) open_outputs();
  }

  LiveResult run() {
    const auto started = Clock::now();
    Mailbox<CapturedFrame> mailbox(queue_capacity(), live_source_ || options_.realtime);
    std::thread reader([&] { read(mailbox); });
    run_graph(mailbox);
    stop_ = true;
    mailbox.close();
    // A reader blocked inside a network read cannot be woken; wait a little, then leave it.
    for (int i = 0; i < 100 && !reader_done_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (reader_done_)
      reader.join();
    else
      reader.detach();

    result_.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    result_.fps = result_.seconds > 0 ? static_cast<double>(result_.frames_processed) / result_.seconds : 0;
    result_.frames_dropped = mailbox.dropped();
    result_.latency_median = latency_.percentile(0.5);
    result_.latency_p99 = latency_.percentile(0.99);
    if (interrupted())
      result_.ended = "interrupted";
    else if (window_closed_)
      result_.ended = "window closed";
    else if (result_.ended.empty())
      result_.ended = "end of input";
    finish_outputs();
    return result_;
  }

 private:
  const LiveOptions& options_;
  std::optional<io::VideoSource> source_;
  bool live_source_ = false;
  double fps_ = 25;
  std::optional<stages::OnlineBackground> online_;
  LiveResult result_;
  LatencyHistogram latency_;
  std::atomic<bool> stop_{false}, reader_done_{false}, window_closed_{false};
  std::mutex display_mutex_;
  cv::Mat display_image_;
  std::optional<io::VideoSink> mask_video_, foreground_video_;
  std::optional<io::PngSequenceSink> mask_images_;
  std::vector<std::string> files_;
  double next_snapshot_ = 0;

  fs::path out(const std::string& name) const { return options_.output / name; }

  // Grey unless --color: a video then gives its decoder's luma plane, with no colour conversion.
  // Decoded on one thread: the model and the writers keep the cores busy, and FFmpeg's frame threads
  // would each add a frame of latency (one decodes 1080p H.264 at about 280 fps here, 4K at 70).
  io::VideoSource open_source() const {
    return io::VideoSource(options_.input,
                           {.format = options_.convert.color ? io::FrameFormat::bgr : io::FrameFormat::grey,
                            .decoder_threads = 1,
                            .strict = true,  // an image that fails counts as a decode failure
                            .fps = options_.fps});
  }

  std::size_t queue_capacity() const {
    const double frame_bytes = 3.0 * source_->size().area(), most = std::max(2.0, 256e6 / frame_bytes);
    return static_cast<std::size_t>(std::clamp(std::ceil(options_.queue_seconds * fps_), 2.0, most));
  }

  // Streams may not be up yet (or be restarting): retried with back-off like a lost stream.
  std::optional<io::VideoSource> open_with_retries() {
    for (int attempt = 0;; ++attempt) {
      try {
        return open_source();
      } catch (const Error&) {
        const bool stream = options_.input.find("://") != std::string::npos;
        if (!stream || attempt >= options_.reconnect || interrupted()) throw;
        sleep_unless_stopped(std::min(8.0, 0.5 * (1 << attempt)), stop_);
      }
    }
  }

  void read(Mailbox<CapturedFrame>& mailbox) {
    long index = 0;
    const auto started = Clock::now();
    try {
      while (!interrupted() && !stop_) {
        if (options_.max_frames >= 0 && index >= options_.max_frames) {
          result_.ended = "frame limit";
          break;
        }
        std::optional<io::Frame> frame;
        try {
          frame = source_->next();
        } catch (const Error&) {  // an image that does not decode, or a frame of another size
          ++result_.decode_failures;
          continue;
        }
        if (!frame) {
          if (!live_source_ || !reopen()) {
            if (live_source_) result_.ended = "stream lost";
            break;
          }
          continue;
        }
        if (!live_source_ && options_.realtime)
          std::this_thread::sleep_until(
              started + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(index / fps_)));
        ++result_.frames_read;
        mailbox.put({index++, 0, std::move(frame->image), Clock::now()});
      }
    } catch (const std::exception&) {
      result_.ended = "stream lost";
    }
    mailbox.close();
    reader_done_ = true;
  }

  bool reopen() {
    source_.reset();
    for (int attempt = 0; attempt < options_.reconnect && !interrupted() && !stop_; ++attempt) {
      sleep_unless_stopped(std::min(8.0, 0.5 * (1 << attempt)), stop_);
      try {
        source_.emplace(open_source());
        ++result_.reconnects;
        return true;
      } catch (const Error&) {
      }
    }
    return false;
  }

  void open_outputs() {
    std::error_code error;
    fs::create_directories(options_.output, error);
    if (error || !fs::is_directory(options_.output))
      throw Error("cannot create output folder '" + options_.output.string() + "'");
    const cv::Size size(result_.geometry.width, result_.geometry.height);
    mask_video_.emplace(out("mask.mp4"), size, fps_, false,
                        io::mask_video_options(options_.video, options_.lossless_masks, options_.mask_preset));
    if (options_.foreground_video)
      foreground_video_.emplace(out("foreground.mp4"), size, fps_, result_.geometry.channels == 3, options_.video);
    if (options_.png) mask_images_.emplace(out("masks"));
  }

  void write(const SeparatedFrame& f) {
    const double source_seconds = static_cast<double>(f.frame.index) / fps_;
    const bool snapshot =
        !options_.output.empty() && options_.snapshot_every > 0 && !f.warming_up && source_seconds >= next_snapshot_;
    cv::Mat foreground, background;  // only when an output shows them
    if (foreground_video_ || options_.display) {
      foreground = cv::Mat::zeros(f.converted.size(), f.converted.type());
      f.converted.copyTo(foreground, f.mask);
    }
    if (snapshot || options_.display) background = stages::column_to_image(*f.background, result_.geometry);

    if (mask_video_) mask_video_->write(f.mask);
    if (foreground_video_) foreground_video_->write(foreground);
    if (mask_images_) mask_images_->write(f.mask, f.frame.index + 1);
    if (snapshot) {
      char name[48];
      std::snprintf(name, sizeof name, "background-%06.0fs.png", source_seconds);
      io::write_png(out(name), background);
      files_.push_back(name);
      next_snapshot_ = source_seconds + options_.snapshot_every;
    }
    if (options_.display) {
      cv::Mat sheet = stages::contact_sheet({{f.converted, background, foreground, f.mask}}, 320);
      char text[64];
      std::snprintf(text, sizeof text, "%.1f fps%s", live_fps(), f.warming_up ? "  warming up" : "");
      cv::putText(sheet, text, {8, 20}, cv::FONT_HERSHEY_SIMPLEX, 0.6, cv::Scalar(0, 255, 255), 1, cv::LINE_AA);
      std::lock_guard lock(display_mutex_);
      display_image_ = sheet;
    }
    latency_.add(std::chrono::duration<double>(Clock::now() - f.frame.captured).count());
    ++result_.frames_processed;
  }

  Clock::time_point graph_started_;
  double live_fps() const {
    const double seconds = std::chrono::duration<double>(Clock::now() - graph_started_).count();
    return seconds > 0 ? static_cast<double>(result_.frames_processed) / seconds : 0;
  }

  // take (serial) -> limiter -> convert (parallel) -> sequencer -> decompose (serial) -> sequencer -> write (serial)
  void run_graph(Mailbox<CapturedFrame>& mailbox) {
    graph_started_ = Clock::now();
    Progress progress(options_.progress && !options_.display);
    progress.start("live", options_.max_frames);
    long sequence = 0;
    const auto& geometry = result_.geometry;
    flow::graph graph;
    flow::input_node<CapturedFrame> take(graph, [&](oneapi::tbb::flow_control& control) -> CapturedFrame {
      std::optional<CapturedFrame> frame;
      if (interrupted() || window_closed_ || !(frame = mailbox.take())) {
        control.stop();
        return {};
      }
      frame->sequence = sequence++;
      return std::move(*frame);
    });
    flow::limiter_node<CapturedFrame> in_flight(graph, 4);
    flow::function_node<CapturedFrame, ConvertedFrame> convert(graph, flow::unlimited, [&](const CapturedFrame& frame) {
      ConvertedFrame converted{frame, stages::convert_frame(frame.image, geometry)};
      converted.frame.image.release();  // only the converted frame goes on
      return converted;
    });
    flow::sequencer_node<ConvertedFrame> in_order(
        graph, [](const ConvertedFrame& f) { return static_cast<std::size_t>(f.frame.sequence); });
    flow::function_node<ConvertedFrame, SeparatedFrame> decompose(graph, flow::serial, [&](const ConvertedFrame& f) {
      stages::FrameSplit separated = online_->split(stages::image_levels(f.converted));
      return SeparatedFrame{f.frame, f.converted, separated.mask,
                            std::make_shared<const Eigen::VectorXf>(std::move(separated.background)),
                            separated.warming_up};
    });
    // A serial node may start its next message before it passes on the last one's result: frames
    // that left `decompose` in order can reach the writer swapped (seen once in three 900-frame runs).
    flow::sequencer_node<SeparatedFrame> separated_in_order(
        graph, [](const SeparatedFrame& f) { return static_cast<std::size_t>(f.frame.sequence); });
    flow::function_node<SeparatedFrame, flow::continue_msg> writer(graph, flow::serial, [&](const SeparatedFrame& f) {
      write(f);
      progress.update(result_.frames_processed, mailbox.dropped());
      return flow::continue_msg();
    });
    flow::make_edge(take, in_flight);
    flow::make_edge(in_flight, convert);
    flow::make_edge(convert, in_order);
    flow::make_edge(in_order, decompose);
    flow::make_edge(decompose, separated_in_order);
    flow::make_edge(separated_in_order, writer);
    flow::make_edge(writer, in_flight.decrementer());
    take.activate();
    // The main thread watches for interrupts (a reader stuck in a network read would not see
    // them) and, with --display, owns the window (HighGUI wants a single thread).
    auto done = std::async(std::launch::async, [&] { graph.wait_for_all(); });
    const char* window = "cleanplate live: original | background | mask";
    if (options_.display) cv::namedWindow(window, cv::WINDOW_AUTOSIZE);
    while (done.wait_for(std::chrono::milliseconds(options_.display ? 1 : 50)) != std::future_status::ready) {
      if (interrupted()) mailbox.close();
      if (!options_.display) continue;
      cv::Mat image;
      {
        std::lock_guard lock(display_mutex_);
        image = display_image_;
      }
      if (!image.empty()) cv::imshow(window, image);
      const int key = cv::waitKey(15);
      if (key == 'q' || key == 27 || (!image.empty() && cv::getWindowProperty(window, cv::WND_PROP_VISIBLE) < 1)) {
        window_closed_ = true;
        mailbox.close();
      }
    }
    done.get();
    if (options_.display) cv::destroyAllWindows();
    progress.finish();
  }

  void finish_outputs() {
    if (options_.output.empty()) return;
    const auto finish = [&](auto& sink, const char* name) {
      if (sink && sink->frames() > 0) {
        sink->finish();
        files_.push_back(name);
      }
    };
    finish(mask_video_, "mask.mp4");
    finish(foreground_video_, "foreground.mp4");
    if (mask_images_ && result_.frames_processed > 0) files_.push_back("masks/");
    const auto& r = result_;
    const io::Json summary = {{"input", options_.input},
                              {"status", r.ended == "interrupted" ? "interrupted" : "complete"},
                              {"ended", r.ended},
                              {"frames_read", r.frames_read},
                              {"frames_processed", r.frames_processed},
                              {"frames_dropped", r.frames_dropped},
                              {"decode_failures", r.decode_failures},
                              {"reconnects", r.reconnects},
                              {"warmup_frames", options_.online.warmup},
                              {"width", r.geometry.width},
                              {"height", r.geometry.height},
                              {"channels", r.geometry.channels},
                              {"fps", fps_},
                              {"rank", options_.online.rank},
                              {"model_block", online_->model_block()},
                              {"memory_seconds", options_.memory_seconds},
                              {"seconds", r.seconds},
                              {"frames_per_second", r.fps},
                              {"latency_median", r.latency_median},
                              {"latency_p99", r.latency_p99},
                              {"noise_sigma", online_->noise_sigma()},
                              {"files", files_}};
    io::write_json(out("summary.json"), summary);
  }
};

}  // namespace

LiveResult live(const LiveOptions& options) {
  if (options.online.rank < 1) throw Error("--rank must be at least 1");
  if (!(options.memory_seconds > 0)) throw Error("--memory must be a positive number of seconds");
  if (options.reconnect < 0) throw Error("--reconnect must not be negative");
  if (options.online.model_block < 0) throw Error("--model-block must not be negative");
  if (!(options.queue_seconds > 0)) throw Error("--queue must be a positive number of seconds");
  return LiveRun(options).run();
}

}  // namespace cleanplate::pipeline
