// cleanplate::linalg — the decomposition library, all of it: randomized and exact truncated SVD,
// matrix operators, PCA, eigendecompositions, subspaces and least squares, incremental SVD,
// robust PCA and GoDec.
// Header-only and templated on float and double; depends on Eigen and oneTBB only.
#pragma once
#include "cleanplate/linalg/eigen.hpp"
#include "cleanplate/linalg/godec.hpp"
#include "cleanplate/linalg/incremental_svd.hpp"
#include "cleanplate/linalg/matrix_operator.hpp"
#include "cleanplate/linalg/pca.hpp"
#include "cleanplate/linalg/robust_pca.hpp"
#include "cleanplate/linalg/subspaces.hpp"
#include "cleanplate/linalg/svd.hpp"
