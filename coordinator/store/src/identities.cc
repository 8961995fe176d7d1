// Store methods for identities and their photos.
#include <bit>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "farm/store/store.h"
#include "store_impl.h"

namespace farm::store {
namespace {

// Descriptors are stored as raw float32 in the host order; the schema says little-endian.
static_assert(std::endian::native == std::endian::little, "descriptor BLOBs are little-endian");

constexpr char kIdentityColumns[] =
    "SELECT id, name, instance_token, photos_sha256, created_at FROM identities";

void BindDescriptor(SQLite::Statement& statement, int index, const std::vector<float>& values) {
  if (values.empty()) {
    statement.bind(index);
  } else {
    statement.bind(index, values.data(), static_cast<int>(values.size() * sizeof(float)));
  }
}

std::vector<float> ReadDescriptor(const SQLite::Column& column, std::int64_t photo_id) {
  if (column.isNull()) return {};
  const int bytes = column.getBytes();
  if (bytes % static_cast<int>(sizeof(float)) != 0) {
    throw CorruptRow("photo " + std::to_string(photo_id) + ": descriptor of " +
                     std::to_string(bytes) + " bytes is not a float32 array");
  }
  std::vector<float> values(static_cast<std::size_t>(bytes) / sizeof(float));
  if (bytes > 0) std::memcpy(values.data(), column.getBlob(), static_cast<std::size_t>(bytes));
  return values;
}

// The identity row at `row`, with its photos read in the same snapshot.
Identity ReadIdentity(StoreImpl& impl, SQLite::Statement& row) {
  Identity identity;
  identity.id = row.getColumn(0).getInt64();
  identity.name = row.getColumn(1).getString();
  identity.instance_token = row.getColumn(2).getString();
  identity.photos_sha256 = row.getColumn(3).getString();
  identity.created_at_ms = row.getColumn(4).getInt64();
  auto photos = impl.Prepare(
      "SELECT id, sha256, path, face_count, descriptor, descriptor_model, created_at, "
      "faces_json FROM identity_photos WHERE identity_id = ? ORDER BY id");
  photos->bind(1, static_cast<int64_t>(identity.id));
  while (photos->executeStep()) {
    IdentityPhoto photo;
    photo.id = photos->getColumn(0).getInt64();
    photo.identity_id = identity.id;
    photo.sha256 = photos->getColumn(1).getString();
    photo.path = photos->getColumn(2).getString();
    if (auto faces = OptionalInt64(photos->getColumn(3)))
      photo.face_count = static_cast<int>(*faces);
    photo.descriptor = ReadDescriptor(photos->getColumn(4), photo.id);
    photo.descriptor_model = TextOrEmpty(photos->getColumn(5));
    photo.created_at_ms = photos->getColumn(6).getInt64();
    photo.faces_json = TextOrEmpty(photos->getColumn(7));
    identity.photos.push_back(std::move(photo));
  }
  return identity;
}

StatusOr<Identity> GetIdentityWhere(StoreImpl& impl, const std::string& where,
                                    const std::function<void(SQLite::Statement&)>& bind,
                                    const std::string& what) {
  return Guarded(impl, "get identity", [&]() -> StatusOr<Identity> {
    ReadScope snapshot(impl);
    auto row = impl.Prepare(std::string(kIdentityColumns) + " WHERE " + where);
    bind(*row);
    if (!row->executeStep()) return impl.NotFoundError(what);
    return ReadIdentity(impl, *row);
  });
}

}  // namespace

StatusOr<std::int64_t> Store::CreateIdentity(const NewIdentity& identity) {
  FARM_RETURN_IF_ERROR(impl_->CheckWritable("create identity"));
  std::vector<std::string> photo_digests;
  for (const NewIdentityPhoto& photo : identity.photos) {
    if (photo.descriptor.empty() != photo.descriptor_model.empty()) {
      return InvalidArgument(impl_->path() + ": create identity '" + identity.name + "': photo " +
                             photo.sha256 + " needs both a descriptor and its model, or neither");
    }
    photo_digests.push_back(photo.sha256);
  }
  const std::string photos_sha256 = PhotoSetDigest(std::move(photo_digests));
  return Guarded(
      *impl_, "create identity '" + identity.name + "'", [&]() -> StatusOr<std::int64_t> {
        const std::int64_t now = impl_->NowMs();
        WriteScope scope(*impl_);
        std::int64_t identity_id = 0;
        {
          auto insert = impl_->Prepare(
              "INSERT INTO identities (name, instance_token, photos_sha256, created_at) "
              "VALUES (?, ?, ?, ?)");
          insert->bind(1, identity.name);
          insert->bind(2, identity.instance_token);
          insert->bind(3, photos_sha256);
          insert->bind(4, static_cast<int64_t>(now));
          insert->exec();
          identity_id = impl_->db().getLastInsertRowid();
        }
        auto insert_photo = impl_->Prepare(
            "INSERT INTO identity_photos (identity_id, sha256, path, face_count, descriptor, "
            "descriptor_model, created_at, faces_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
        for (const NewIdentityPhoto& photo : identity.photos) {
          insert_photo->reset();
          insert_photo->bind(1, static_cast<int64_t>(identity_id));
          insert_photo->bind(2, photo.sha256);
          insert_photo->bind(3, photo.path);
          if (photo.face_count) {
            insert_photo->bind(4, *photo.face_count);
          } else {
            insert_photo->bind(4);
          }
          BindDescriptor(*insert_photo, 5, photo.descriptor);
          BindTextOrNull(*insert_photo, 6, photo.descriptor_model);
          insert_photo->bind(7, static_cast<int64_t>(now));
          BindTextOrNull(*insert_photo, 8, photo.faces_json);
          insert_photo->exec();
        }
        scope.Commit();
        return identity_id;
      });
}

StatusOr<Identity> Store::GetIdentity(std::int64_t identity_id) {
  return GetIdentityWhere(
      *impl_, "id = ?", [&](SQLite::Statement& s) { s.bind(1, static_cast<int64_t>(identity_id)); },
      "identity " + std::to_string(identity_id));
}

StatusOr<Identity> Store::GetIdentityByName(const std::string& name) {
  return GetIdentityWhere(
      *impl_, "name = ?", [&](SQLite::Statement& s) { s.bind(1, name); },
      "identity '" + name + "'");
}

StatusOr<std::vector<Identity>> Store::ListIdentities() {
  return Guarded(*impl_, "list identities", [&]() -> StatusOr<std::vector<Identity>> {
    ReadScope snapshot(*impl_);
    auto rows = impl_->Prepare(std::string(kIdentityColumns) + " ORDER BY name");
    std::vector<Identity> identities;
    while (rows->executeStep()) identities.push_back(ReadIdentity(*impl_, *rows));
    return identities;
  });
}

Status Store::SetPhotoAnalysis(std::int64_t photo_id, int face_count,
                               const std::vector<float>& descriptor,
                               const std::string& descriptor_model) {
  FARM_RETURN_IF_ERROR(impl_->CheckWritable("set photo analysis"));
  if (descriptor.empty() != descriptor_model.empty()) {
    return InvalidArgument(impl_->path() + ": set photo analysis of photo " +
                           std::to_string(photo_id) +
                           ": a descriptor needs its model name, and a model name a descriptor");
  }
  return Guarded(*impl_, "set photo analysis", [&]() -> Status {
    auto update = impl_->Prepare(
        "UPDATE identity_photos SET face_count = ?, descriptor = ?, descriptor_model = ? "
        "WHERE id = ?");
    update->bind(1, face_count);
    BindDescriptor(*update, 2, descriptor);
    BindTextOrNull(*update, 3, descriptor_model);
    update->bind(4, static_cast<int64_t>(photo_id));
    if (update->exec() == 0) return impl_->NotFoundError("photo " + std::to_string(photo_id));
    return Status::Ok();
  });
}

}  // namespace farm::store
