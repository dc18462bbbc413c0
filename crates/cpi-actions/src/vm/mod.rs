pub(crate) mod calculate;
pub(crate) mod create;
pub(crate) mod delete;
pub(crate) mod has;
pub(crate) mod metadata;
pub(crate) mod reboot;
