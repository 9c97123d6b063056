using System.Text.Json;
using Mixer.Sdk;
using Mixer.Sdk.Adapters;

namespace Mixer.Samples.AuditAdapter;

/// <summary>
/// The <c>audit</c> adapter: denies callers listed in a block list (a file, re-read when it
/// changes, plus entries written in the handler's params) and appends every reported request to an
/// audit trail of JSON lines, rotated at a size limit.
/// </summary>
public sealed class AuditAdapter : Adapter<AuditParams>
{
    public override AdapterInfo Info { get; } = new(
        "audit",
        "Blocks callers listed in a file and keeps an audit trail of requests as JSON lines",
        ["listentry", "logentry"]);

    protected override void Validate(AuditParams p, ICollection<ConfigProblem> problems)
    {
        if (string.IsNullOrWhiteSpace(p.AuditLog))
        {
            problems.Add(new ConfigProblem("auditLog", "is required: the file the audit trail is appended to, e.g. /var/log/mesh/audit.jsonl"));
        }
        else if (Path.GetDirectoryName(Path.GetFullPath(p.AuditLog)) is { } dir && !Directory.Exists(dir))
        {
            problems.Add(new ConfigProblem("auditLog", $"directory '{dir}' does not exist"));
        }

        if (p.RefreshInterval < TimeSpan.FromMilliseconds(100))
        {
            problems.Add(new ConfigProblem("refreshInterval", $"must be at least 100ms, it is {GoDuration.Format(p.RefreshInterval)}"));
        }

        if (p.ValidDuration < TimeSpan.Zero)
        {
            problems.Add(new ConfigProblem("validDuration", $"must not be negative, it is {GoDuration.Format(p.ValidDuration)}"));
        }

        if (p.ValidUseCount < 0)
        {
            problems.Add(new ConfigProblem("validUseCount", $"must not be negative, it is {p.ValidUseCount}"));
        }

        if (p.MaxFileBytes < 4096)
        {
            problems.Add(new ConfigProblem("maxFileBytes", $"must be at least 4096, it is {p.MaxFileBytes}"));
        }

        if (p.QueueSize < 1)
        {
            problems.Add(new ConfigProblem("queueSize", $"must be at least 1, it is {p.QueueSize}"));
        }

        for (var i = 0; i < p.BlockedEntries.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(p.BlockedEntries[i]))
            {
                problems.Add(new ConfigProblem($"blockedEntries[{i}]", "is empty"));
            }
        }
    }

    protected override async ValueTask<IHandler> BuildAsync(AuditParams p, HandlerContext context, CancellationToken cancellationToken)
    {
        var blockList = await BlockList.LoadAsync(p.BlockList, p.BlockedEntries, cancellationToken);
        return new AuditHandler(p, blockList, context);
    }

}

/// <summary>The handler's params (YAML <c>params:</c> of the handler, camelCase or snake_case).</summary>
public sealed class AuditParams
{
    /// <summary>A file of blocked entries, one per line; blank lines and lines starting with # are skipped. Optional.</summary>
    public string BlockList { get; set; } = string.Empty;

    /// <summary>Entries blocked in addition to the file's.</summary>
    public List<string> BlockedEntries { get; set; } = [];

    /// <summary>How often the block list file is checked for changes.</summary>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a proxy may reuse an answer; keep it at most <see cref="RefreshInterval"/> so a new block takes effect promptly.</summary>
    public TimeSpan ValidDuration { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>For how many requests a proxy may reuse an answer.</summary>
    public int ValidUseCount { get; set; } = 1000;

    /// <summary>The audit trail, appended to as JSON lines.</summary>
    public string AuditLog { get; set; } = string.Empty;

    /// <summary>When the audit trail passes this size it is renamed to <c>&lt;auditLog&gt;.1</c> and a new one started.</summary>
    public long MaxFileBytes { get; set; } = 100L * 1024 * 1024;

    /// <summary>Entries waiting to be written; past this, new entries are dropped and counted.</summary>
    public int QueueSize { get; set; } = 10_000;
}
