// farm_curve_keys (libsodium only) must agree byte for byte with libzmq's CURVE keys.
#include "farm/transport/curve_keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <zmq.h>

#include <filesystem>
#include <fstream>
#include <random>

namespace farm::transport {
namespace {

namespace fs = std::filesystem;

class CurveKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("farm_curve_keys_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  static unsigned Mode(const std::string& path) {
    struct stat st {};
    ::stat(path.c_str(), &st);
    return st.st_mode & 0777;
  }

  fs::path dir_;
};

TEST(Z85Test, MatchesTheRfcVectorAndLibzmq) {
  const std::string hello("\x86\x4F\xD2\x6F\xB5\x59\xF7\x5B", 8);
  EXPECT_EQ(*Z85Encode(hello), "HelloWorld");
  EXPECT_EQ(*Z85Decode("HelloWorld"), hello);

  std::mt19937 rng(7);
  for (int round = 0; round < 100; ++round) {
    std::string bytes(4 * (1 + rng() % 16), '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    std::string expected(bytes.size() / 4 * 5 + 1, '\0');
    ASSERT_NE(zmq_z85_encode(expected.data(), reinterpret_cast<const uint8_t*>(bytes.data()),
                             bytes.size()),
              nullptr);
    expected.pop_back();
    EXPECT_EQ(*Z85Encode(bytes), expected);
    EXPECT_EQ(*Z85Decode(expected), bytes);
  }
}

TEST(Z85Test, RejectsBadInput) {
  EXPECT_EQ(Z85Encode("abc").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Z85Decode("abcd").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Z85Decode("abc\"d").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Z85Decode("#####").status().code(), StatusCode::kInvalidArgument);  // > 2^32
  EXPECT_FALSE(IsValidCurveKey("HelloWorld"));
}

TEST(CurveKeyPairTest, GeneratedPairsAreWhatLibzmqDerives) {
  for (int round = 0; round < 10; ++round) {
    auto keys = GenerateCurveKeyPair();
    ASSERT_TRUE(keys.ok()) << keys.status().ToString();
    ASSERT_EQ(keys->public_key.size(), kCurveZ85Chars);
    ASSERT_EQ(keys->secret_key.size(), kCurveZ85Chars);
    char derived[41];
    ASSERT_EQ(zmq_curve_public(derived, keys->secret_key.c_str()), 0);
    EXPECT_EQ(keys->public_key, std::string(derived));
  }
  EXPECT_NE(GenerateCurveKeyPair()->secret_key, GenerateCurveKeyPair()->secret_key);
}

TEST(CurveKeyPairTest, PublicFromSecretMatchesLibzmqKeypair) {
  for (int round = 0; round < 10; ++round) {
    char public_key[41];
    char secret_key[41];
    ASSERT_EQ(zmq_curve_keypair(public_key, secret_key), 0);
    auto derived = CurvePublicFromSecret(secret_key);
    ASSERT_TRUE(derived.ok()) << derived.status().ToString();
    EXPECT_EQ(*derived, std::string(public_key));
  }
  EXPECT_EQ(CurvePublicFromSecret("short").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(CurveKeysTest, KeyFileRoundTripWithPrivateMode) {
  const CurveKeyPair keys = *GenerateCurveKeyPair();
  const std::string secret_path = (dir_ / "agent.key").string();
  ASSERT_TRUE(WriteCurveKeyFile(secret_path, keys, false).ok());
  EXPECT_EQ(Mode(secret_path), 0600u);
  auto read = ReadCurveKeyFile(secret_path);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->public_key, keys.public_key);
  EXPECT_EQ(read->secret_key, keys.secret_key);

  const std::string public_path = (dir_ / "agent.pub").string();
  ASSERT_TRUE(WriteCurveKeyFile(public_path, {keys.public_key, ""}, false).ok());
  EXPECT_EQ(Mode(public_path), 0644u);
  auto public_only = ReadCurveKeyFile(public_path);
  ASSERT_TRUE(public_only.ok());
  EXPECT_EQ(public_only->public_key, keys.public_key);
  EXPECT_TRUE(public_only->secret_key.empty());
}

TEST_F(CurveKeysTest, OverwriteNeedsPermissionAndResetsTheMode) {
  const std::string path = Write("agent.key", "old\n");
  ::chmod(path.c_str(), 0644);
  const CurveKeyPair keys = *GenerateCurveKeyPair();
  EXPECT_EQ(WriteCurveKeyFile(path, keys, false).code(), StatusCode::kAlreadyExists);
  ASSERT_TRUE(WriteCurveKeyFile(path, keys, true).ok());
  EXPECT_EQ(Mode(path), 0600u);
  EXPECT_EQ(ReadCurveKeyFile(path)->secret_key, keys.secret_key);
}

TEST_F(CurveKeysTest, BadKeyFilesNameFileAndLine) {
  const CurveKeyPair keys = *GenerateCurveKeyPair();
  const CurveKeyPair other = *GenerateCurveKeyPair();
  struct Case {
    const char* name;
    std::string text;
    std::string expected;
  };
  const Case cases[] = {
      {"garbage.key", "# comment\nnonsense\n", "garbage.key:2: expected"},
      {"field.key", "private: " + keys.secret_key + "\n", "field.key:1: unknown field 'private'"},
      {"short.key", "public: abc\n", "short.key:1: public key is not 40 Z85"},
      {"dup.key", "public: " + keys.public_key + "\npublic: " + keys.public_key + "\n",
       "dup.key:2: duplicate"},
      {"nopublic.key", "secret: " + keys.secret_key + "\n", "no 'public:' line"},
      {"mismatch.key", "public: " + other.public_key + "\nsecret: " + keys.secret_key + "\n",
       "does not belong"},
  };
  for (const Case& c : cases) {
    auto read = ReadCurveKeyFile(Write(c.name, c.text));
    ASSERT_FALSE(read.ok()) << c.name;
    EXPECT_EQ(read.status().code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_NE(read.status().message().find(c.expected), std::string::npos)
        << c.name << ": " << read.status().message();
  }
  EXPECT_EQ(ReadCurveKeyFile((dir_ / "missing.key").string()).status().code(),
            StatusCode::kNotFound);
}

TEST_F(CurveKeysTest, AllowListSkipsCommentsAndDuplicates) {
  const std::string a = GenerateCurveKeyPair()->public_key;
  const std::string b = GenerateCurveKeyPair()->public_key;
  const std::string path = Write(
      "agents.allow", "# farm agents\n\n" + a + "  # gpu-01\n  " + b + "\n" + a + "\n# end\n");
  auto keys = ReadAllowListFile(path);
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(*keys, (std::vector<std::string>{a, b}));
}

// '#' is a Z85 character too: a key holding one is not cut short as a comment.
TEST_F(CurveKeysTest, AllowListKeepsKeysContainingHash) {
  std::string bytes(kCurveKeyBytes, '\0');
  bytes[3] = 84;  // the first group encodes as "0000#"
  const std::string key = *Z85Encode(bytes);
  ASSERT_EQ(key.substr(0, 5), "0000#");
  auto keys = ReadAllowListFile(Write("hash.allow", key + " # comment\n"));
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(*keys, std::vector<std::string>{key});
}

TEST_F(CurveKeysTest, AllowListErrorsNameFileAndLine) {
  const std::string a = GenerateCurveKeyPair()->public_key;
  auto bad_key = ReadAllowListFile(Write("bad.allow", a + "\nnot-a-key\n"));
  ASSERT_FALSE(bad_key.ok());
  EXPECT_NE(bad_key.status().message().find("bad.allow:2:"), std::string::npos)
      << bad_key.status().message();
  auto trailing = ReadAllowListFile(Write("trail.allow", a + " gpu-01\n"));
  ASSERT_FALSE(trailing.ok());
  EXPECT_NE(trailing.status().message().find("trail.allow:1:"), std::string::npos);
  EXPECT_EQ(ReadAllowListFile((dir_ / "none").string()).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace farm::transport
