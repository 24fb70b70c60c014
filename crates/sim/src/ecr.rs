//! ECR: the app's repository, its images by digest and their tags. A push of a tag moves it to
//! the new image (tags are mutable, as the repository is configured); digests never change.

use crate::account::{Api, SimAccount, SimCloud};
use crate::seed::{
    ACCOUNT_ID, ECR_REGISTRY, ECR_REPOSITORY, PRODUCTION_IMAGE_DIGEST, PRODUCTION_IMAGE_TAG, REGION, RELEASE_IMAGE_DIGEST,
    RELEASE_IMAGE_TAG,
};
use crate::world::World;
use chrono::{DateTime, Utc};
use rehearsal_core::cloud::{CloudResult, ContainerImage, ContainerImages};
use rehearsal_core::image::{ImageName, ImageReference};
use rehearsal_core::{CloudError, CloudErrorKind};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub(crate) struct Image {
    pub digest: String,
    pub tags: Vec<String>,
    pub pushed_at: DateTime<Utc>,
    /// Whether it is a build of the multi-tenancy release, whose start command migrates the
    /// database (production runs the release before it).
    pub runs_release: bool,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct EcrState {
    /// Repository name → its images, oldest first.
    pub repositories: BTreeMap<String, Vec<Image>>,
}

pub(crate) fn seed(world: &mut World, start: DateTime<Utc>) {
    let image = |digest: &str, tags: &[&str], days_ago: i64, runs_release: bool| Image {
        digest: digest.to_string(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        pushed_at: start - chrono::Duration::days(days_ago),
        runs_release,
    };
    world.ecr.repositories.insert(
        ECR_REPOSITORY.to_string(),
        vec![
            image(PRODUCTION_IMAGE_DIGEST, &[PRODUCTION_IMAGE_TAG], 30, false),
            image(RELEASE_IMAGE_DIGEST, &[RELEASE_IMAGE_TAG, "latest"], 1, true),
        ],
    );
}

fn repository_not_found(image: &ImageName) -> CloudError {
    CloudError::new(
        CloudErrorKind::NotFound,
        "RepositoryNotFoundException",
        format!("The repository with name '{}' does not exist in the registry with id '{}'", image.repository, image.registry_id),
    )
}

impl World {
    /// The image a name denotes now; `Err` when its repository does not exist.
    pub(crate) fn ecr_image(&self, image: &ImageName) -> CloudResult<Option<&Image>> {
        let images = (image.registry_id == ACCOUNT_ID && image.region == REGION)
            .then(|| self.ecr.repositories.get(&image.repository))
            .flatten()
            .ok_or_else(|| repository_not_found(image))?;
        Ok(images.iter().find(|i| match &image.reference {
            ImageReference::Tag(tag) => i.tags.contains(tag),
            ImageReference::Digest(digest) => i.digest == *digest,
        }))
    }

    /// What a host pulling `image` gets: the image, or why the pull fails (as ECS and App
    /// Runner report it).
    pub(crate) fn pull_image(&self, image: &str) -> Result<&Image, String> {
        let name =
            ImageName::parse(image).map_err(|why| format!("CannotPullContainerError: {why} (the account reaches only its own ECR)"))?;
        match self.ecr_image(&name) {
            Ok(Some(found)) => Ok(found),
            Ok(None) => Err(format!("CannotPullContainerError: {image}: not found")),
            Err(e) => Err(format!("CannotPullContainerError: {image}: {}", e.message)),
        }
    }

    /// Whether deploying `image` runs the release's migrations: any build but the one production
    /// runs. An image that cannot be pulled runs nothing, so this does not matter for it.
    pub(crate) fn image_runs_release(&self, image: &str) -> bool {
        self.pull_image(image).map_or(true, |i| i.runs_release)
    }
}

impl SimAccount {
    /// Pushes a new build of the release to the app's repository under `tag`, which moves there
    /// from whatever image had it. Answers the new image's digest.
    pub fn push_image(&self, tag: &str) -> String {
        let (mut world, now) = self.world();
        let digest = format!("sha256:{}", world.ids.hex(64));
        let images = world.ecr.repositories.entry(ECR_REPOSITORY.to_string()).or_default();
        for image in images.iter_mut() {
            image.tags.retain(|t| t != tag);
        }
        images.push(Image { digest: digest.clone(), tags: vec![tag.to_string()], pushed_at: now, runs_release: true });
        digest
    }

    /// The digest a tag of the app's repository names now.
    pub fn image_digest(&self, tag: &str) -> Option<String> {
        let (world, _) = self.world();
        world.ecr.repositories.get(ECR_REPOSITORY)?.iter().find(|i| i.tags.iter().any(|t| t == tag)).map(|i| i.digest.clone())
    }
}

impl ContainerImages for SimCloud {
    async fn resolve_image(&self, image: &ImageName) -> CloudResult<Option<ContainerImage>> {
        self.aws(Api { service: "ecr", action: "DescribeImages" }, |w, _| {
            Ok(w.ecr_image(image)?.map(|found| ContainerImage {
                repository_uri: format!("{ECR_REGISTRY}/{}", image.repository),
                digest: found.digest.clone(),
                tags: found.tags.clone(),
                pushed_at: Some(found.pushed_at),
            }))
        })
    }
}
