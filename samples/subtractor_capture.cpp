// cleanplate's background subtractor in the capture loop OpenCV's tutorials use for MOG2: only the
// line that creates the subtractor differs. Writes each mask as it goes and prints the last frame's
// foreground share.
//   cleanplate-subtractor-sample VIDEO_OR_CAMERA [MASK_VIDEO]
#include <cstdio>
#include <opencv2/videoio.hpp>
#include <string>

#include "cleanplate/stages/background_subtractor.hpp"

int main(int argc, char** argv) {
  if (argc < 2) return std::fprintf(stderr, "usage: %s VIDEO_OR_CAMERA [MASK_VIDEO]\n", argv[0]), 2;
  const std::string source = argv[1];
  cv::VideoCapture capture = source.find_first_not_of("0123456789") == std::string::npos
                                 ? cv::VideoCapture(std::stoi(source))
                                 : cv::VideoCapture(source);
  if (!capture.isOpened()) return std::fprintf(stderr, "cannot open '%s'\n", argv[1]), 1;
  cv::Ptr<cv::BackgroundSubtractor> subtractor =
      cleanplate::createBackgroundSubtractorLowRank();  // was: cv::createBackgroundSubtractorMOG2()
  cv::VideoWriter writer;
  cv::Mat frame, mask;
  long frames = 0;
  while (capture.read(frame)) {
    subtractor->apply(frame, mask);
    if (argc > 2 && !writer.isOpened())
      writer.open(argv[2], cv::VideoWriter::fourcc('F', 'F', 'V', '1'), 25, mask.size(), false);
    if (writer.isOpened()) writer.write(mask);
    ++frames;
  }
  if (frames == 0) return std::fprintf(stderr, "no frames in '%s'\n", argv[1]), 1;
  std::printf("%ld frames; foreground in the last: %.2f%%\n", frames,
              100.0 * cv::countNonZero(mask) / static_cast<double>(mask.total()));
}
