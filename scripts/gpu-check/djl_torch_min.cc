// A minimal JNI for DJL 0.35.1's PyTorchLibrary, built against whatever libtorch is at hand, for a
// GPU check only (not part of Retain). Implements the natives Retain's learner calls.
#include <jni.h>
#include <torch/torch.h>
#include <ATen/Parallel.h>
#ifdef WITH_CUDA
#include <torch/cuda.h>
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include <string>
#include <vector>

using Index = std::vector<at::indexing::TensorIndex>;

static torch::Tensor* T(jlong h) { return reinterpret_cast<torch::Tensor*>(h); }
static jlong P(const torch::Tensor& t) { return reinterpret_cast<jlong>(new torch::Tensor(t)); }

static void Throw(JNIEnv* env, const char* what) {
  jclass cls = env->FindClass("ai/djl/engine/EngineException");
  env->ThrowNew(cls, what);
}

#define BEGIN try {
#define END(ret)                        \
  }                                     \
  catch (const std::exception& e) {     \
    Throw(env, e.what());               \
  }                                     \
  return ret;

static std::vector<int64_t> LongVec(JNIEnv* env, jlongArray a) {
  jsize n = env->GetArrayLength(a);
  std::vector<int64_t> v(n);
  env->GetLongArrayRegion(a, 0, n, reinterpret_cast<jlong*>(v.data()));
  return v;
}

static torch::ScalarType ScalarType(jint d) {
  switch (d) {
    case 0: return torch::kFloat32;
    case 1: return torch::kFloat64;
    case 2: return torch::kFloat16;
    case 3: return torch::kUInt8;
    case 4: return torch::kInt32;
    case 5: return torch::kInt8;
    case 6: return torch::kInt64;
    case 7: return torch::kBool;
    default: throw std::runtime_error("unsupported DJL data type " + std::to_string(d));
  }
}

static jint DType(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return 0;
    case torch::kFloat64: return 1;
    case torch::kFloat16: return 2;
    case torch::kUInt8: return 3;
    case torch::kInt32: return 4;
    case torch::kInt8: return 5;
    case torch::kInt64: return 6;
    case torch::kBool: return 7;
    default: return 8;
  }
}

static torch::Device Dev(JNIEnv* env, jintArray jdevice) {
  jint d[2];
  env->GetIntArrayRegion(jdevice, 0, 2, d);
  auto type = static_cast<torch::DeviceType>(d[0]);
  return type == torch::DeviceType::CPU ? torch::Device(type) : torch::Device(type, d[1]);
}

static torch::TensorOptions Options(JNIEnv* env, jint dtype, jintArray jdevice, jboolean grad) {
  auto o = torch::TensorOptions().device(Dev(env, jdevice)).requires_grad(grad == JNI_TRUE);
  if (dtype != 8) {
    o = o.dtype(ScalarType(dtype));
  }
  return o;
}

#define NAME(f) Java_ai_djl_pytorch_jni_PyTorchLibrary_##f

extern "C" {

JNIEXPORT void JNICALL NAME(torchShowConfig)(JNIEnv* env, jobject, jobject jset) {
  BEGIN
  jclass set = env->GetObjectClass(jset);
  jmethodID add = env->GetMethodID(set, "add", "(Ljava/lang/Object;)Z");
  std::vector<std::string> features;
#ifdef WITH_CUDA
  if (torch::cuda::is_available()) {
    features.push_back("CUDA");
  }
  if (torch::cuda::cudnn_is_available()) {
    features.push_back("CUDNN");
  }
#endif
  features.push_back("OPENMP");
  for (const auto& f : features) {
    env->CallBooleanMethod(jset, add, env->NewStringUTF(f.c_str()));
  }
  END()
}

JNIEXPORT void JNICALL NAME(torchManualSeed)(JNIEnv* env, jobject, jlong seed) {
  BEGIN torch::manual_seed(seed);
  END()
}

JNIEXPORT jint JNICALL NAME(torchGetNumInteropThreads)(JNIEnv* env, jobject) {
  BEGIN return at::get_num_interop_threads();
  END(0)
}

JNIEXPORT jint JNICALL NAME(torchGetNumThreads)(JNIEnv* env, jobject) {
  BEGIN return at::get_num_threads();
  END(0)
}

JNIEXPORT void JNICALL NAME(torchSetNumThreads)(JNIEnv* env, jobject, jint n) {
  BEGIN at::set_num_threads(n);
  END()
}

JNIEXPORT void JNICALL NAME(torchSetNumInteropThreads)(JNIEnv* env, jobject, jint n) {
  BEGIN at::set_num_interop_threads(n);
  END()
}

JNIEXPORT jboolean JNICALL NAME(torchIsGradMode)(JNIEnv* env, jobject) {
  BEGIN return at::GradMode::is_enabled();
  END(false)
}

JNIEXPORT void JNICALL NAME(torchSetGradMode)(JNIEnv* env, jobject, jboolean on) {
  BEGIN at::GradMode::set_enabled(on == JNI_TRUE);
  END()
}

JNIEXPORT void JNICALL NAME(torchCudaEmptyCache)(JNIEnv* env, jobject) {
  BEGIN
#ifdef WITH_CUDA
  c10::cuda::CUDACachingAllocator::emptyCache();
#endif
  END()
}

JNIEXPORT jlong JNICALL NAME(torchFromBlob)(JNIEnv* env, jobject, jobject jbuffer, jlongArray jshape,
    jint dtype, jint layout, jintArray jdevice, jboolean grad) {
  BEGIN
  auto device = Dev(env, jdevice);
  auto o = torch::TensorOptions().requires_grad(grad == JNI_TRUE);
  if (dtype != 8) {
    o = o.dtype(ScalarType(dtype));
  }
  torch::Tensor t = torch::from_blob(env->GetDirectBufferAddress(jbuffer), LongVec(env, jshape), o);
  if (!device.is_cpu()) {
    t = t.to(device);  // a copy: the Java side then lets the buffer go
  }
  return P(t);
  END(0)
}

JNIEXPORT jlong JNICALL NAME(torchZeros)(JNIEnv* env, jobject, jlongArray jshape, jint dtype, jint,
    jintArray jdevice, jboolean grad) {
  BEGIN return P(torch::zeros(LongVec(env, jshape), Options(env, dtype, jdevice, grad)));
  END(0)
}

JNIEXPORT jlong JNICALL NAME(torchOnes)(JNIEnv* env, jobject, jlongArray jshape, jint dtype, jint,
    jintArray jdevice, jboolean grad) {
  BEGIN return P(torch::ones(LongVec(env, jshape), Options(env, dtype, jdevice, grad)));
  END(0)
}

JNIEXPORT jlong JNICALL NAME(torchNormal)(JNIEnv* env, jobject, jdouble mean, jdouble std,
    jlongArray jshape, jint dtype, jint, jintArray jdevice, jboolean grad) {
  BEGIN
  return P(torch::normal(mean, std, LongVec(env, jshape), std::nullopt,
      Options(env, dtype, jdevice, grad)));
  END(0)
}

JNIEXPORT jlongArray JNICALL NAME(torchSizes)(JNIEnv* env, jobject, jlong h) {
  BEGIN
  auto sizes = T(h)->sizes();
  jlongArray out = env->NewLongArray(sizes.size());
  env->SetLongArrayRegion(out, 0, sizes.size(), reinterpret_cast<const jlong*>(sizes.data()));
  return out;
  END(nullptr)
}

JNIEXPORT jint JNICALL NAME(torchDType)(JNIEnv* env, jobject, jlong h) {
  BEGIN return DType(T(h)->scalar_type());
  END(0)
}

JNIEXPORT jintArray JNICALL NAME(torchDevice)(JNIEnv* env, jobject, jlong h) {
  BEGIN
  jintArray out = env->NewIntArray(2);
  jint d[] = {static_cast<jint>(T(h)->device().type()), T(h)->device().index()};
  env->SetIntArrayRegion(out, 0, 2, d);
  return out;
  END(nullptr)
}

JNIEXPORT jint JNICALL NAME(torchLayout)(JNIEnv* env, jobject, jlong h) {
  BEGIN
  auto layout = T(h)->layout();
  return layout == torch::kStrided ? 0 : layout == torch::kSparse ? 1 : 2;
  END(0)
}

JNIEXPORT jboolean JNICALL NAME(torchIsContiguous)(JNIEnv* env, jobject, jlong h) {
  BEGIN return T(h)->is_contiguous();
  END(false)
}

JNIEXPORT jlong JNICALL NAME(torchToContiguous)(JNIEnv* env, jobject, jlong h) {
  BEGIN return P(T(h)->contiguous());
  END(0)
}

JNIEXPORT jobject JNICALL NAME(torchDirectByteBuffer)(JNIEnv* env, jobject, jlong h) {
  BEGIN return env->NewDirectByteBuffer(T(h)->data_ptr(), T(h)->nbytes());
  END(nullptr)
}

JNIEXPORT jbyteArray JNICALL NAME(torchDataPtr)(JNIEnv* env, jobject, jlong h) {
  BEGIN
  auto t = T(h)->contiguous();
  jbyteArray out = env->NewByteArray(t.nbytes());
  env->SetByteArrayRegion(out, 0, t.nbytes(), static_cast<const jbyte*>(t.data_ptr()));
  return out;
  END(nullptr)
}

JNIEXPORT void JNICALL NAME(torchSet)(JNIEnv* env, jobject, jlong h, jobject jbuffer) {
  BEGIN
  torch::NoGradGuard guard;
  auto* t = T(h);
  auto src = torch::from_blob(env->GetDirectBufferAddress(jbuffer), t->sizes(),
      torch::TensorOptions().dtype(t->dtype()));
  t->copy_(src);
  END()
}

JNIEXPORT void JNICALL NAME(torchDeleteTensor)(JNIEnv* env, jobject, jlong h) {
  BEGIN delete T(h);
  END()
}

JNIEXPORT jlong JNICALL NAME(torchTo)(JNIEnv* env, jobject, jlong h, jint dtype, jintArray jdevice) {
  BEGIN
  torch::NoGradGuard guard;
  return P(T(h)->to(Dev(env, jdevice), ScalarType(dtype), false));
  END(0)
}

JNIEXPORT jlong JNICALL NAME(tensorClone)(JNIEnv* env, jobject, jlong h) {
  BEGIN
  torch::NoGradGuard guard;
  return P(T(h)->clone());
  END(0)
}

// indexing

JNIEXPORT jlong JNICALL NAME(torchIndexInit)(JNIEnv* env, jobject, jint n) {
  BEGIN
  auto* index = new Index();
  index->reserve(n);
  return reinterpret_cast<jlong>(index);
  END(0)
}

JNIEXPORT void JNICALL NAME(torchDeleteIndex)(JNIEnv* env, jobject, jlong h) {
  BEGIN delete reinterpret_cast<Index*>(h);
  END()
}

JNIEXPORT void JNICALL NAME(torchIndexAppendNoneEllipsis)(JNIEnv* env, jobject, jlong h,
    jboolean ellipsis) {
  BEGIN
  auto* index = reinterpret_cast<Index*>(h);
  if (ellipsis) {
    index->emplace_back(torch::indexing::Ellipsis);
  } else {
    index->emplace_back(torch::indexing::None);
  }
  END()
}

JNIEXPORT void JNICALL NAME(torchIndexAppendSlice)(JNIEnv* env, jobject, jlong h, jlong min,
    jlong max, jlong step, jint nulls) {
  BEGIN
  using torch::indexing::None;
  using torch::indexing::Slice;
  auto* index = reinterpret_cast<Index*>(h);
  if (nulls == 0) {
    index->emplace_back(Slice(min, max, step));
  } else if (nulls == 1) {
    index->emplace_back(Slice(min, None, step));
  } else if (nulls == 2) {
    index->emplace_back(Slice(None, max, step));
  } else {
    index->emplace_back(Slice(None, None, step));
  }
  END()
}

JNIEXPORT void JNICALL NAME(torchIndexAppendFixed)(JNIEnv* env, jobject, jlong h, jlong i) {
  BEGIN reinterpret_cast<Index*>(h)->emplace_back(static_cast<int64_t>(i));
  END()
}

JNIEXPORT void JNICALL NAME(torchIndexAppendArray)(JNIEnv* env, jobject, jlong h, jlong a) {
  BEGIN reinterpret_cast<Index*>(h)->emplace_back(*T(a));
  END()
}

JNIEXPORT jlong JNICALL NAME(torchIndexAdvGet)(JNIEnv* env, jobject, jlong h, jlong index) {
  BEGIN return P(T(h)->index(*reinterpret_cast<Index*>(index)));
  END(0)
}

JNIEXPORT void JNICALL NAME(torchIndexAdvPut)(JNIEnv* env, jobject, jlong h, jlong index,
    jlong value) {
  BEGIN T(h)->index_put_(*reinterpret_cast<Index*>(index), *T(value));
  END()
}

JNIEXPORT jlong JNICALL NAME(torchGather)(JNIEnv* env, jobject, jlong h, jlong index, jlong dim,
    jboolean sparse) {
  BEGIN return P(T(h)->gather(dim, *T(index), sparse == JNI_TRUE));
  END(0)
}

// arithmetic

JNIEXPORT jlong JNICALL NAME(torchMatmul)(JNIEnv* env, jobject, jlong a, jlong b) {
  BEGIN return P(T(a)->matmul(*T(b)));
  END(0)
}

JNIEXPORT jlong JNICALL NAME(torchMul)(JNIEnv* env, jobject, jlong a, jlong b) {
  BEGIN return P(T(a)->mul(*T(b)));
  END(0)
}

JNIEXPORT void JNICALL NAME(torchMuli)(JNIEnv* env, jobject, jlong a, jlong b) {
  BEGIN T(a)->mul_(*T(b));
  END()
}

JNIEXPORT void JNICALL NAME(torchSubi)(JNIEnv* env, jobject, jlong a, jlong b) {
  BEGIN T(a)->sub_(*T(b));
  END()
}

JNIEXPORT jlong JNICALL NAME(torchEq)(JNIEnv* env, jobject, jlong a, jlong b) {
  BEGIN return P(T(a)->eq(*T(b)));
  END(0)
}

JNIEXPORT jlong JNICALL NAME(torchSign)(JNIEnv* env, jobject, jlong h) {
  BEGIN return P(T(h)->sign());
  END(0)
}

JNIEXPORT jlong JNICALL NAME(torchNeg)(JNIEnv* env, jobject, jlong h) {
  BEGIN return P(T(h)->neg());
  END(0)
}

JNIEXPORT jlong JNICALL NAME(torchSum__J)(JNIEnv* env, jobject, jlong h) {
  BEGIN return P(T(h)->sum());
  END(0)
}

JNIEXPORT jlong JNICALL NAME(torchSum__J_3JZ)(JNIEnv* env, jobject, jlong h, jlongArray dims,
    jboolean keep) {
  BEGIN return P(T(h)->sum(LongVec(env, dims), keep == JNI_TRUE));
  END(0)
}

JNIEXPORT jlong JNICALL NAME(torchMean__J)(JNIEnv* env, jobject, jlong h) {
  BEGIN return P(T(h)->mean());
  END(0)
}

JNIEXPORT jlong JNICALL NAME(torchMean__JJZ)(JNIEnv* env, jobject, jlong h, jlong dim,
    jboolean keep) {
  BEGIN return P(T(h)->mean(dim, keep == JNI_TRUE));
  END(0)
}

JNIEXPORT jlong JNICALL NAME(torchArgMax__J)(JNIEnv* env, jobject, jlong h) {
  BEGIN return P(T(h)->argmax());
  END(0)
}

JNIEXPORT jlong JNICALL NAME(torchArgMax__JJZ)(JNIEnv* env, jobject, jlong h, jlong dim,
    jboolean keep) {
  BEGIN return P(T(h)->argmax(dim, keep == JNI_TRUE));
  END(0)
}

JNIEXPORT jlong JNICALL NAME(torchLogSoftmax)(JNIEnv* env, jobject, jlong h, jlong dim,
    jint dtype) {
  BEGIN return P(T(h)->log_softmax(dim, ScalarType(dtype)));
  END(0)
}

JNIEXPORT jlong JNICALL NAME(torchPermute)(JNIEnv* env, jobject, jlong h, jlongArray dims) {
  BEGIN return P(T(h)->permute(LongVec(env, dims)));
  END(0)
}

JNIEXPORT jlong JNICALL NAME(torchReshape)(JNIEnv* env, jobject, jlong h, jlongArray shape) {
  BEGIN return P(T(h)->reshape(LongVec(env, shape)));
  END(0)
}

JNIEXPORT jlong JNICALL NAME(torchCat)(JNIEnv* env, jobject, jlongArray handles, jlong dim) {
  BEGIN
  std::vector<torch::Tensor> parts;
  for (int64_t h : LongVec(env, handles)) {
    parts.push_back(*T(h));
  }
  return P(torch::cat(parts, dim));
  END(0)
}

JNIEXPORT jlong JNICALL NAME(torchNNLinear)(JNIEnv* env, jobject, jlong x, jlong w, jlong b) {
  BEGIN
  return P(b == 0 ? torch::linear(*T(x), *T(w)) : torch::linear(*T(x), *T(w), *T(b)));
  END(0)
}

JNIEXPORT jlong JNICALL NAME(torchNNRelu)(JNIEnv* env, jobject, jlong h) {
  BEGIN return P(T(h)->relu());
  END(0)
}

// autograd and optimizer

JNIEXPORT void JNICALL NAME(torchAttachGrad)(JNIEnv* env, jobject, jlong h, jboolean on) {
  BEGIN T(h)->requires_grad_(on == JNI_TRUE);
  END()
}

JNIEXPORT jlong JNICALL NAME(torchGrad)(JNIEnv* env, jobject, jlong h) {
  BEGIN
  auto g = T(h)->grad();
  return g.defined() ? P(g) : 0;
  END(0)
}

JNIEXPORT jlong JNICALL NAME(torchDetachGrad)(JNIEnv* env, jobject, jlong h) {
  BEGIN return P(T(h)->detach());
  END(0)
}

JNIEXPORT void JNICALL NAME(torchBackward)(JNIEnv* env, jobject, jlong h, jlong grad,
    jboolean keep, jboolean create) {
  BEGIN T(h)->backward(*T(grad), keep == JNI_TRUE, create == JNI_TRUE);
  END()
}

JNIEXPORT void JNICALL NAME(zeroGrad)(JNIEnv* env, jobject, jlong h) {
  BEGIN
  torch::NoGradGuard guard;
  if (T(h)->grad().defined()) {
    T(h)->mutable_grad().zero_();
  }
  END()
}

JNIEXPORT void JNICALL NAME(adamUpdate)(JNIEnv* env, jobject, jlong jweight, jlong jgrad,
    jlong jmean, jlong jvariance, jfloat lr, jfloat lr_bias_correction, jfloat wd,
    jfloat rescale, jfloat clip, jfloat beta1, jfloat beta2, jfloat eps, jboolean adamw) {
  BEGIN
  torch::NoGradGuard guard;
  auto* weight = T(jweight);
  auto grad = T(jgrad)->clone();
  auto* mean = T(jmean);
  auto* variance = T(jvariance);
  if (rescale != 1.0f) {
    grad.mul_(rescale);
  }
  if (clip >= 0.0f) {
    grad.clamp_max_(clip);
  }
  if (!adamw) {
    grad.add_(*weight, wd);
  } else {
    weight->sub_(weight->mul(lr).mul(wd));
  }
  mean->mul_(beta1).add_(grad, 1 - beta1);
  variance->mul_(beta2).addcmul_(grad, grad, 1 - beta2);
  weight->sub_(mean->mul(lr_bias_correction).div(variance->sqrt().add(eps)));
  END()
}

}  // extern "C"
