//! Deciding the image without writing it: which store paths go into which
//! layer, the root tree (contents, accounts, directories), and the owners
//! and modes of entries. The result, an [`image_plan::ImagePlan`], is what
//! the emit stage turns into bytes.

pub mod accounts;
pub mod image_plan;
pub mod layering;
pub mod perms;
pub mod root_tree;
pub mod rule_check;
