//! A long job's kind and state, as stored in the `jobs` table.

/// What a job does. Each kind has its own parameters (see `db::jobs::Work`);
/// imports and large exports are to join as further kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// A bulk action on orders: a new status, or deletion.
    OrdersBulk,
    /// A bulk change to products: price or stock by a percentage.
    ProductsBulk,
    /// The commit of an import too large for one request: its staged rows.
    Import,
    /// A list exported as a file (CSV or XLSX) to download when done.
    Export,
}

impl JobKind {
    pub const ALL: [JobKind; 4] = [JobKind::OrdersBulk, JobKind::ProductsBulk, JobKind::Import, JobKind::Export];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::OrdersBulk => "orders_bulk",
            JobKind::ProductsBulk => "products_bulk",
            JobKind::Import => "import",
            JobKind::Export => "export",
        }
    }

    pub fn parse(s: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The rows it works on, plural: "orders".
    pub fn targets(self) -> &'static str {
        match self {
            JobKind::OrdersBulk => "orders",
            JobKind::ProductsBulk => "products",
            JobKind::Import => "rows",
            JobKind::Export => "rows",
        }
    }

    /// Whether the job ends in a file to download rather than changed rows.
    pub fn makes_file(self) -> bool {
        self == JobKind::Export
    }
}

super::text_enum!(JobKind);

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
    Cancelled,
}

impl JobState {
    pub const ALL: [JobState; 5] =
        [JobState::Queued, JobState::Running, JobState::Done, JobState::Failed, JobState::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            JobState::Queued => "Waiting to start",
            JobState::Running => "Running",
            JobState::Done => "Done",
            JobState::Failed => "Failed",
            JobState::Cancelled => "Cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether the job may still change rows.
    pub fn is_open(self) -> bool {
        matches!(self, JobState::Queued | JobState::Running)
    }

    /// Whether a job of `kind` in this state has a file to download.
    pub fn has_file(self, kind: JobKind) -> bool {
        kind.makes_file() && self == JobState::Done
    }
}

super::text_enum!(JobState);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_states_read_back_what_they_write() {
        for kind in JobKind::ALL {
            assert_eq!(JobKind::parse(kind.as_str()), Some(kind));
        }
        for state in JobState::ALL {
            assert_eq!(JobState::parse(state.as_str()), Some(state));
        }
        assert_eq!(JobState::parse("Done"), None);
        assert!(JobState::Running.is_open() && !JobState::Cancelled.is_open());
    }
}
