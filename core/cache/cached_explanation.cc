#include "core/cache/cached_explanation.h"

#include <cstring>

#include <xxhash.h>

namespace camserve {
namespace {

constexpr char kMagic[] = "CSH3";
constexpr size_t kChecksumBytes = 8;

void PutU32(uint32_t value, std::string* out) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>(value >> (8 * i)));
}

void PutString(std::string_view text, std::string* out) {
  PutU32(static_cast<uint32_t>(text.size()), out);
  out->append(text);
}

void PutFloat(float value, std::string* out) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  PutU32(bits, out);
}

void PutScore(const ClassScore& score, std::string* out) {
  PutU32(static_cast<uint32_t>(score.class_index), out);
  PutString(score.label, out);
  PutFloat(score.probability, out);
}

void PutFloats(const std::vector<float>& values, std::string* out) {
  PutU32(static_cast<uint32_t>(values.size()), out);
  for (float value : values) PutFloat(value, out);
}

void PutQuality(const ExplanationQuality& quality, std::string* out) {
  for (float value : {quality.target_probability, quality.masked_probability, quality.confidence_change,
                      quality.average_drop, quality.deletion_auc, quality.insertion_auc}) {
    PutFloat(value, out);
  }
  PutU32(quality.confidence_increase ? 1 : 0, out);
  PutU32(static_cast<uint32_t>(quality.steps), out);
  PutFloats(quality.deletion_curve, out);
  PutFloats(quality.insertion_curve, out);
}

// XXH3-64, little-endian: a hit checks every byte it serves, so the checksum
// must cost far less than the read (~10 us for 200 KB; SHA-256 took ~140 us).
std::string Checksum(std::string_view bytes) {
  const uint64_t hash = XXH3_64bits(bytes.data(), bytes.size());
  std::string out(kChecksumBytes, '\0');
  for (size_t i = 0; i < kChecksumBytes; ++i) out[i] = static_cast<char>(hash >> (8 * i));
  return out;
}

// Reads fields front to back; any read past the end marks the value bad.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  uint32_t U32() {
    if (!Has(4)) return 0;
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) value |= uint32_t{static_cast<uint8_t>(bytes_[offset_ + i])} << (8 * i);
    offset_ += 4;
    return value;
  }
  std::string String() {
    const uint32_t size = U32();
    if (!Has(size)) return {};
    std::string text(bytes_.substr(offset_, size));
    offset_ += size;
    return text;
  }
  // A u32 that must be 0 or 1: anything else is damage (and would not
  // serialize back to the same bytes).
  bool Bool() {
    const uint32_t value = U32();
    if (value > 1) ok_ = false;
    return value == 1;
  }
  float Float() {
    const uint32_t bits = U32();
    float value;
    std::memcpy(&value, &bits, 4);
    return value;
  }
  ClassScore Score() {
    ClassScore score;
    score.class_index = static_cast<int32_t>(U32());
    score.label = String();
    score.probability = Float();
    return score;
  }
  std::vector<float> Floats() {
    const uint32_t count = U32();
    std::vector<float> values;
    // Each float takes 4 bytes: a count beyond the value is damage.
    if (!Has(size_t{count} * 4)) return values;
    for (uint32_t i = 0; i < count; ++i) values.push_back(Float());
    return values;
  }
  ExplanationQuality Quality() {
    ExplanationQuality quality;
    for (float* value : {&quality.target_probability, &quality.masked_probability, &quality.confidence_change,
                         &quality.average_drop, &quality.deletion_auc, &quality.insertion_auc}) {
      *value = Float();
    }
    quality.confidence_increase = Bool();
    quality.steps = static_cast<int>(U32());
    quality.deletion_curve = Floats();
    quality.insertion_curve = Floats();
    return quality;
  }
  bool ok() const { return ok_; }
  bool at_end() const { return offset_ == bytes_.size(); }

 private:
  bool Has(size_t count) {
    if (!ok_ || bytes_.size() - offset_ < count) ok_ = false;
    return ok_;
  }
  std::string_view bytes_;
  size_t offset_ = 0;
  bool ok_ = true;
};

}  // namespace

std::string SerializeCachedExplanation(const CachedExplanation& value) {
  std::string out(kMagic, 4);
  PutU32(static_cast<uint32_t>(value.width_px), &out);
  PutU32(static_cast<uint32_t>(value.height_px), &out);
  PutU32(static_cast<uint32_t>(value.encoding), &out);
  PutString(value.data, &out);
  PutScore(value.target, &out);
  PutU32(static_cast<uint32_t>(value.top_k.size()), &out);
  for (const ClassScore& score : value.top_k) PutScore(score, &out);
  PutU32(value.quality ? 1 : 0, &out);
  if (value.quality) PutQuality(*value.quality, &out);
  out += Checksum(out);
  return out;
}

StatusOr<CachedExplanation> ParseCachedExplanation(std::string_view bytes) {
  if (bytes.size() < 4 + kChecksumBytes || bytes.substr(0, 4) != std::string_view(kMagic, 4)) {
    return Status(StatusCode::kDataLoss, "cached value is not a camserve heatmap (format CSH3)");
  }
  const std::string_view body = bytes.substr(0, bytes.size() - kChecksumBytes);
  if (Checksum(body) != bytes.substr(body.size())) {
    return Status(StatusCode::kDataLoss, "cached value fails its checksum");
  }
  Reader reader(body.substr(4));
  CachedExplanation value;
  value.width_px = static_cast<int>(reader.U32());
  value.height_px = static_cast<int>(reader.U32());
  value.encoding = static_cast<int>(reader.U32());
  value.data = reader.String();
  value.target = reader.Score();
  const uint32_t count = reader.U32();
  for (uint32_t i = 0; i < count && reader.ok(); ++i) value.top_k.push_back(reader.Score());
  if (reader.Bool()) value.quality = reader.Quality();
  if (!reader.ok() || !reader.at_end()) {
    return Status(StatusCode::kDataLoss, "cached value is truncated or has trailing bytes");
  }
  return value;
}

}  // namespace camserve
