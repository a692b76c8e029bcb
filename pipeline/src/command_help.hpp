// The texts `cleanplate --help` and `cleanplate COMMAND --help` print besides the options.
#pragma once

namespace cleanplate::pipeline {

inline constexpr const char* overview =
    R"(cleanplate: separate a video into a low-rank background (the clean plate) and a sparse foreground.

usage: cleanplate COMMAND [options]

commands:
  separate INPUT -o OUT   background, foreground, masks and factors of a video file or image sequence
  live SOURCE [-o OUT]    real-time separation of a camera, a stream or a file played live
  rebuild MODEL -o VIDEO  the video rebuilt from a model.npz (factors + coded foreground)
  info MODEL              what a model.npz holds: frames, size, rank, energy, PSNR, size of each part
  eval SEQUENCE           CDnet scores of cleanplate next to OpenCV's MOG2 and KNN on a sequence with ground truth

cleanplate COMMAND --help shows a command's options and examples; cleanplate --version its version.
)";

inline constexpr const char* separate_examples = R"(
examples:
  cleanplate separate traffic.mp4 -o out/
  cleanplate separate 'highway/input/in%06d.jpg' -o out/ --png       # CDnet masks out/masks/bin000001.png ...
  cleanplate separate highway/input -o out/ --rank 3 --color --scale 0.5
  cleanplate separate lobby.mkv -o out/ --start 100 --frames 500 --threshold 12 --outputs mask,model
  cleanplate separate lobby.mkv -o out/ --outputs model --factors int8 --foreground-step 4   # smaller model
  cleanplate separate lobby.mkv -o out/ --outputs model --lossless-foreground              # exact frames
)";

inline constexpr const char* rebuild_examples = R"(
examples:
  cleanplate rebuild out/model.npz -o rebuilt.mp4                 # H.264
  cleanplate rebuild out/model.npz -o rebuilt.mkv --frames 100:200  # FFV1 (lossless), frames 100 to 199
  cleanplate rebuild out/model.npz -o plate/ --background-only    # PNG frames of the background alone
)";

inline constexpr const char* live_examples = R"(
examples:
  cleanplate live 0 --display                                  # the first camera, in a window
  cleanplate live rtsp://camera.local/stream -o out/ --every 60 --reconnect 10
  cleanplate live traffic.mp4 -o out/ --png --no-realtime     # a file, as fast as possible
)";

inline constexpr const char* eval_examples = R"(
examples:
  cleanplate eval ../shared/data/cdnet-baseline/highway                   # cleanplate robust vs MOG2 and KNN
  cleanplate eval ../shared/data/cdnet-baseline/highway ../shared/data/sbi2015 --method robust,live   # 7 sequences and the means
  cleanplate eval highway -o eval/ --method robust,svd,godec,rpca --masks other-method/results
)";

}  // namespace cleanplate::pipeline
