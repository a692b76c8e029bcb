// cleanplate-synth: renders a synthetic static-camera scene with exact ground truth, in the CDnet
// layout, so `cleanplate separate` and `cleanplate eval` can be checked without outside data.
//
//   OUT/input/in000001.png ...      the frames (lossless)
//   OUT/groundtruth/gt000001.png    255 where an object is, 50 in its cast shadow (--shadows), 0 elsewhere
//   OUT/temporalROI.txt, ROI.bmp    every frame and every pixel count
//   OUT/background.png              the true clean plate: the background at the mean illumination
//   OUT/scene.mkv (or --video NAME) the same frames as a video (FFV1 lossless; H.264 for .mp4)
//
// The scene: a textured mid-grey background (smooth shading, blocks and lines), Gaussian sensor
// noise, a slow global illumination drift, and dark or bright objects of several sizes and speeds
// that cross the frame and come back, each with its own striped texture. With --waving, the whole
// background sways (each pixel shows the texture up to that many pixels away, once a second, in a
// phase that varies smoothly over the frame), as waving leaves or ripples do; the truth is the objects.
// With --exposure, a dark object of half the frame's width crosses it in the middle half of the clip,
// and the camera's gain follows the share of the view it covers, as an auto-exposure does. With
// --shadows, each object casts a shadow of its own shape, below and to its right, that dims the
// background's light by that fraction; the truth labels it 50, CDnet's shadow label.
#include <boost/program_options.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numbers>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <vector>

namespace fs = std::filesystem;
namespace po = boost::program_options;

namespace {

struct SceneOptions {
  int width = 320, height = 240, frames = 200;
  double fps = 25;
  double noise = 2.0;   // sensor noise, standard deviation in grey levels
  double drift = 0.06;  // illumination varies by +-drift over the clip
  int objects = 6;
  double waving = 0;    // the background sways by up to this many pixels, as leaves and ripples do
  double exposure = 0;  // a large dark object crosses the middle half of the clip and the camera's
                        // gain rises by up to this fraction while it covers the view (auto-exposure)
  double shadows = 0;   // each object's cast shadow dims the light by this fraction (0: no shadows)
  unsigned seed = 1;
};

struct MovingObject {
  cv::Point2d start, velocity;  // pixels, pixels per frame
  cv::Size size;
  bool ellipse;
  cv::Mat texture;  // CV_32FC3, size x size
};

cv::Mat smooth_noise(cv::RNG& rng, cv::Size size, int cell) {
  cv::Mat coarse(std::max(2, size.height / cell), std::max(2, size.width / cell), CV_32FC3);
  rng.fill(coarse, cv::RNG::UNIFORM, 0.0, 1.0);
  cv::Mat fine;
  cv::resize(coarse, fine, size, 0, 0, cv::INTER_CUBIC);
  return fine;
}

cv::Mat render_background(cv::RNG& rng, cv::Size size) {
  cv::Mat background;
  cv::addWeighted(smooth_noise(rng, size, 40), 0.35, smooth_noise(rng, size, 6), 0.15, 0.25, background);
  for (int i = 0; i < 12; ++i) {  // blocks and lines: edges an SVD must keep sharp
    const cv::Point a(rng.uniform(0, size.width), rng.uniform(0, size.height));
    const cv::Point b(rng.uniform(0, size.width), rng.uniform(0, size.height));
    const cv::Scalar shade(rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7),
                           rng.uniform(0.3, 0.7));  // no clipping under the drift
    if (i % 2)
      cv::rectangle(background, cv::Rect(a, b) & cv::Rect({}, size), shade, cv::FILLED);
    else
      cv::line(background, a, b, shade, 1 + i % 3);
  }
  return background;
}

std::vector<MovingObject> make_objects(cv::RNG& rng, const SceneOptions& o) {
  std::vector<MovingObject> objects;
  const double unit = std::min(o.width, o.height) / 240.0;  // sizes and speeds scale with the frame
  for (int i = 0; i < o.objects; ++i) {
    MovingObject m;
    const double side = unit * (i % 3 == 0   ? rng.uniform(8.0, 16.0)
                                : i % 3 == 1 ? rng.uniform(20.0, 36.0)
                                             : rng.uniform(40.0, 60.0));
    m.size = cv::Size(std::max(3, static_cast<int>(side * rng.uniform(0.8, 1.6))), std::max(3, static_cast<int>(side)));
    const double speed = unit * rng.uniform(0.7, 4.0), angle = rng.uniform(0.0, 2 * std::numbers::pi);
    m.velocity = {speed * std::cos(angle), speed * std::sin(angle)};
    m.start = {rng.uniform(0.0, double(o.width)), rng.uniform(0.0, double(o.height))};
    m.ellipse = i % 2 == 0;
    cv::Mat stripes(m.size, CV_32FC3);
    // Dark or bright objects over a mid-grey background: visible in grey too (camouflage is
    // another test); stripes give them texture.
    const float level = i % 2 ? rng.uniform(0.03f, 0.15f) : rng.uniform(0.85f, 0.97f);
    const cv::Vec3f base(level + rng.uniform(-0.03f, 0.03f), level + rng.uniform(-0.03f, 0.03f),
                         level + rng.uniform(-0.03f, 0.03f));
    const cv::Vec3f stripe = base + cv::Vec3f::all(i % 2 ? 0.08f : -0.08f);
    const int period = 2 + i % 5;
    for (int y = 0; y < m.size.height; ++y)
      for (int x = 0; x < m.size.width; ++x) stripes.at<cv::Vec3f>(y, x) = ((x + y) / period) % 2 ? base : stripe;
    m.texture = stripes;
    objects.push_back(m);
  }
  return objects;
}

// Where object m is at frame t: it moves in a straight line and wraps around a torus slightly
// larger than the frame, so it leaves, stays out for a while and comes back.
cv::Point position(const MovingObject& m, int t, cv::Size frame) {
  const double span_x = frame.width + 2.0 * m.size.width, span_y = frame.height + 2.0 * m.size.height;
  const double x = std::fmod(std::fmod(m.start.x + m.velocity.x * t, span_x) + span_x, span_x) - m.size.width;
  const double y = std::fmod(std::fmod(m.start.y + m.velocity.y * t, span_y) + span_y, span_y) - m.size.height;
  return {static_cast<int>(std::lround(x)), static_cast<int>(std::lround(y))};
}

void write_image(const fs::path& path, const cv::Mat& image) {
  if (!cv::imwrite(path.string(), image)) throw std::runtime_error("cannot write '" + path.string() + "'");
}

int run(const SceneOptions& o, const fs::path& out, const std::string& video_name, bool images) {
  const cv::Size size(o.width, o.height);
  cv::RNG rng(o.seed);
  const cv::Mat background = render_background(rng, size);
  const std::vector<MovingObject> objects = make_objects(rng, o);
  // The large dark object of --exposure at frame t: it enters at a quarter of the clip and has left at three quarters.
  const cv::Size large(o.width / 2, o.height * 4 / 5);
  const auto large_at = [&](int t) {
    const double progress = (t - o.frames / 4.0) / (o.frames / 2.0);
    const int x = static_cast<int>(std::lround(-large.width + progress * (o.width + large.width)));
    return o.exposure > 0 ? cv::Rect(cv::Point(x, o.height / 10), large) & cv::Rect({}, size) : cv::Rect();
  };
  const double most_covered = static_cast<double>(large.area()) / size.area();
  const auto gain = [&](int t) {
    const double exposure = 1 + o.exposure * large_at(t).area() / size.area() / most_covered;
    return exposure * (1.0 + o.drift * std::sin(2 * std::numbers::pi * t / std::max(o.frames, 1)));
  };

  if (images) {
    fs::create_directories(out / "input");
    fs::create_directories(out / "groundtruth");
    std::ofstream(out / "temporalROI.txt") << 1 << ' ' << o.frames << '\n';
    write_image(out / "ROI.bmp", cv::Mat(size, CV_8U, cv::Scalar(255)));
    double mean_gain = 0;
    for (int t = 0; t < o.frames; ++t) mean_gain += gain(t) / o.frames;
    cv::Mat plate;
    background.convertTo(plate, CV_8UC3, 255 * mean_gain);
    write_image(out / "background.png", plate);
  } else {
    fs::create_directories(out);
  }
  cv::VideoWriter video;
  if (!video_name.empty()) {
    const fs::path path = out / video_name;
    const int fourcc = path.extension() == ".mp4" ? cv::VideoWriter::fourcc('a', 'v', 'c', '1')
                                                  : cv::VideoWriter::fourcc('F', 'F', 'V', '1');
    if (!video.open(path.string(), cv::CAP_FFMPEG, fourcc, o.fps, size, true))
      throw std::runtime_error("cannot write '" + path.string() + "'");
  }

  // The sway's phase per pixel and axis, from a generator of its own: the scene is otherwise the same.
  cv::RNG sway_rng(o.seed + 1);
  cv::Mat phase = smooth_noise(sway_rng, size, 30) * (2 * std::numbers::pi), swayed, map_x(size, CV_32F),
          map_y(size, CV_32F);
  cv::Mat frame(size, CV_32FC3), noise(size, CV_32FC3), truth(size, CV_8U), pixels;
  for (int t = 0; t < o.frames; ++t) {
    if (o.waving > 0) {
      const double turn = 2 * std::numbers::pi * t / o.fps;
      for (int y = 0; y < o.height; ++y)
        for (int x = 0; x < o.width; ++x) {
          const cv::Vec3f p = phase.at<cv::Vec3f>(y, x);
          map_x.at<float>(y, x) = static_cast<float>(x + o.waving * std::sin(turn + p[0]));
          map_y.at<float>(y, x) = static_cast<float>(y + o.waving * std::sin(turn + p[1]));
        }
      cv::remap(background, swayed, map_x, map_y, cv::INTER_LINEAR, cv::BORDER_REFLECT);
      frame = swayed * gain(t);
    } else {
      frame = background * gain(t);
    }
    truth.setTo(0);
    // Calls draw(visible part of the frame, the shape's pixels there) for object m placed at `corner`.
    const auto place = [&](const MovingObject& m, cv::Point corner, const auto& draw) {
      const cv::Rect placed(corner, m.size);
      const cv::Rect visible = placed & cv::Rect({}, size);
      if (visible.empty()) return;
      cv::Mat shape(m.size, CV_8U, cv::Scalar(m.ellipse ? 0 : 255));
      if (m.ellipse)
        cv::ellipse(shape, {m.size.width / 2, m.size.height / 2}, {m.size.width / 2, m.size.height / 2}, 0, 0, 360, 255,
                    cv::FILLED);
      draw(visible, shape(cv::Rect(visible.tl() - placed.tl(), visible.size())));
    };
    if (o.shadows > 0)  // first, so that the objects cover the shadows
      for (const MovingObject& m : objects)
        place(m, position(m, t, size) + cv::Point(m.size.width / 2, m.size.height / 4),
              [&](const cv::Rect& visible, const cv::Mat& shape) {
                cv::Mat dimmed = frame(visible) * (1 - o.shadows);
                dimmed.copyTo(frame(visible), shape);
                truth(visible).setTo(50, shape);
              });
    for (const MovingObject& m : objects)
      place(m, position(m, t, size), [&](const cv::Rect& visible, const cv::Mat& shape) {
        cv::Mat lit = m.texture(cv::Rect(visible.tl() - position(m, t, size), visible.size())) * gain(t);
        lit.copyTo(frame(visible), shape);
        truth(visible).setTo(255, shape);
      });
    if (const cv::Rect dark = large_at(t); !dark.empty()) {
      frame(dark).setTo(cv::Scalar::all(0.12 * gain(t)));
      truth(dark).setTo(255);
    }
    rng.fill(noise, cv::RNG::NORMAL, 0.0, o.noise / 255);
    frame += noise;
    frame.convertTo(pixels, CV_8UC3, 255);
    if (images) {
      char name[32];
      std::snprintf(name, sizeof name, "in%06d.png", t + 1);
      write_image(out / "input" / name, pixels);
      std::snprintf(name, sizeof name, "gt%06d.png", t + 1);
      write_image(out / "groundtruth" / name, truth);
    }
    if (video.isOpened()) video.write(pixels);
  }
  std::cout << "wrote " << o.frames << " frames of " << o.width << "x" << o.height << " to " << out.string() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  SceneOptions o;
  std::string out, video = "scene.mkv";
  po::options_description options("cleanplate-synth OUT [options]: a synthetic scene with ground truth (CDnet layout)");
  options.add_options()("help,h", "this help")("width", po::value(&o.width)->default_value(o.width), "frame width")(
      "height", po::value(&o.height)->default_value(o.height), "frame height")(
      "frames", po::value(&o.frames)->default_value(o.frames), "number of frames")(
      "fps", po::value(&o.fps)->default_value(o.fps), "frames per second of the video")(
      "noise", po::value(&o.noise)->default_value(o.noise), "sensor noise (standard deviation, grey levels)")(
      "drift", po::value(&o.drift)->default_value(o.drift), "illumination drift (relative amplitude)")(
      "objects", po::value(&o.objects)->default_value(o.objects), "number of moving objects")(
      "waving", po::value(&o.waving)->default_value(o.waving),
      "the background sways by up to this many pixels, as leaves and ripples do (0: still)")(
      "exposure", po::value(&o.exposure)->default_value(o.exposure),
      "a large dark object crosses mid-clip and the gain rises by up to this fraction (auto-exposure; 0: none)")(
      "shadows", po::value(&o.shadows)->default_value(o.shadows),
      "each object casts a shadow that dims the light by this fraction in [0, 1) (0: none)")(
      "seed", po::value(&o.seed)->default_value(o.seed), "random seed")(
      "video", po::value(&video)->default_value(video),
      "video file name in OUT (.mkv: FFV1 lossless, .mp4: H.264; empty: none)")(
      "video-only", "write only the video (no images, ground truth or background)");
  po::options_description hidden;
  hidden.add_options()("out", po::value(&out));
  po::options_description all;
  all.add(options).add(hidden);
  po::positional_options_description positional;
  positional.add("out", 1);
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
    if (vm.count("help") || out.empty()) {
      std::cout << options << "\n";
      return out.empty() && !vm.count("help") ? 2 : 0;
    }
    if (o.width < 16 || o.height < 16 || o.frames < 1 || o.fps <= 0 || o.waving < 0 || o.exposure < 0 ||
        !(o.shadows >= 0 && o.shadows < 1))
      throw std::runtime_error(
          "need at least 16x16 pixels, one frame, a positive fps, waving and exposure >= 0, shadows in [0, 1)");
    return run(o, out, video, !vm.count("video-only"));
  } catch (const std::exception& e) {
    std::cerr << "cleanplate-synth: " << e.what() << "\n";
    return 1;
  }
}
