#include "leaves/views/factory.h"

#include "leaves/views/leaves.h"
#include "leaves/views/random_views.h"
#include "leaves/views/viewmaker.h"

namespace leaves::views {

std::shared_ptr<ViewGenerator> make_generator(const GeneratorConfig& c) {
  if (c.kind == "leaves") {
    return std::make_shared<LeavesImpl>(LeavesOptions()
                                            .eta(c.eta)
                                            .mixture_components(c.mixture_components)
                                            .max_segments(c.max_segments)
                                            .magwarp_knots(c.knots)
                                            .magwarp_interpolation(augment::parse_interpolation(c.interpolation))
                                            .per_channel_distortion(c.per_channel)
                                            .normalize(c.normalize)
                                            .perm_estimator(augment::parse_permutation_estimator(c.perm_estimator))
                                            .sampling(augment::parse_time_distortion_sampling(c.sampling)));
  }
  if (c.kind == "viewmaker") {
    return std::make_shared<ViewMakerImpl>(ViewMakerOptions(c.channels).budget(c.budget));
  }
  if (c.kind == "random") {
    return std::make_shared<RandomViewsImpl>(RandomViewsOptions()
                                                 .sigma(c.sigma)
                                                 .max_segments(c.max_segments)
                                                 .knots(c.knots)
                                                 .interpolation(augment::parse_interpolation(c.interpolation))
                                                 .per_channel_warp(c.per_channel));
  }
  throw std::invalid_argument("view generator must be 'leaves', 'viewmaker' or 'random', got '" + c.kind + "'");
}

}  // namespace leaves::views
