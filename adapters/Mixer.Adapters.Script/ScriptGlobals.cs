using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Mixer.Sdk.Adapters;

namespace Mixer.Adapters.Script;

/// <summary>
/// What a script sees besides its <c>instance</c>: every script is the body of a method of a class
/// deriving from this one, so these members are in scope by their simple names
/// (<c>return Deny("no");</c>, <c>Count("mixer_script_denied_total");</c>).
/// </summary>
public abstract class ScriptGlobals
{
    // Patterns compiled per handler; beyond this many distinct ones, a pattern is compiled per use.
    private const int RegexCacheCapacity = 256;

    private ScriptRuntime _runtime = null!;
    private readonly ConcurrentDictionary<string, Regex> _regexes = new(StringComparer.Ordinal);

    /// <summary>The handler's fully qualified name (<c>name.kind.namespace</c>).</summary>
    protected string Handler => _runtime.HandlerName;

    /// <summary>
    /// The current time (mixs's clock). A check script that reads it makes its answer depend on
    /// more than the instance: give such answers a short validity (<c>Ok(TimeSpan.Zero, 1)</c>).
    /// </summary>
    protected DateTimeOffset Now => _runtime.Time.GetUtcNow();

    /// <summary>OK, reusable for the params' <c>validDuration</c> and <c>validUseCount</c>.</summary>
    protected CheckResult Ok() => CheckResult.Ok(_runtime.ValidDuration, _runtime.ValidUseCount);

    /// <summary>OK, reusable for <paramref name="validDuration"/> and <paramref name="validUseCount"/> requests.</summary>
    protected static CheckResult Ok(TimeSpan validDuration, int validUseCount) => CheckResult.Ok(validDuration, validUseCount);

    /// <summary>PERMISSION_DENIED with <paramref name="message"/>, reusable as the params say.</summary>
    protected CheckResult Deny(string message) => Deny(StatusCodes.PermissionDenied, message);

    /// <summary>Denied with the google.rpc <paramref name="code"/> (e.g. <c>StatusCodes.Unauthenticated</c>) and <paramref name="message"/>.</summary>
    protected CheckResult Deny(int code, string message) => Deny(code, message, _runtime.ValidDuration, _runtime.ValidUseCount);

    /// <summary>Denied with <paramref name="code"/> and <paramref name="message"/>, reusable for the duration and count given.</summary>
    protected static CheckResult Deny(int code, string message, TimeSpan validDuration, int validUseCount)
    {
        if (code is <= 0 or > 16)
        {
            throw new ArgumentOutOfRangeException(nameof(code), code, "a denial needs a google.rpc code 1..16 (e.g. 7 PERMISSION_DENIED)");
        }

        return CheckResult.Deny(code, message ?? string.Empty, validDuration, validUseCount);
    }

    /// <summary>Writes <paramref name="message"/> to mixs's log at Information, tagged with the handler and template.</summary>
    protected void Log(string message) => ScriptLog.Info(_runtime.Logger, _runtime.HandlerName, _runtime.Template, message);

    /// <summary>Writes <paramref name="message"/> to mixs's log at Warning, tagged with the handler and template.</summary>
    protected void Warn(string message) => ScriptLog.Warning(_runtime.Logger, _runtime.HandlerName, _runtime.Template, message);

    /// <summary>
    /// Adds <paramref name="by"/> (default 1, not negative) to a counter declared in the params'
    /// <c>counters</c>; the name must be a string constant, checked when the config is loaded.
    /// </summary>
    protected void Count(string counter, long by = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(by);
        if (!_runtime.Counters.TryGetValue(counter, out var c))
        {
            throw new ArgumentException($"no counter '{counter}' is declared in the params", nameof(counter));
        }

        c.Add(by);
    }

    /// <summary>Whether <paramref name="input"/> matches the regular expression <paramref name="pattern"/> (.NET syntax), within the call's time budget.</summary>
    protected bool IsMatch(string input, string pattern) => Pattern(pattern).IsMatch(input);

    /// <summary>The first match of <paramref name="pattern"/> in <paramref name="input"/>, with its groups; within the call's time budget.</summary>
    protected Match Match(string input, string pattern) => Pattern(pattern).Match(input);

    internal void Attach(ScriptRuntime runtime) => _runtime = runtime;

    private Regex Pattern(string pattern)
    {
        if (_regexes.TryGetValue(pattern, out var regex))
        {
            return regex;
        }

        regex = new Regex(pattern, RegexOptions.CultureInvariant, _runtime.Timeout);
        if (_regexes.Count < RegexCacheCapacity)
        {
            _regexes.TryAdd(pattern, regex);
        }

        return regex;
    }
}

/// <summary>What a handler gives its scripts at run time.</summary>
internal sealed record ScriptRuntime(
    string HandlerName,
    string Template,
    ILogger Logger,
    TimeProvider Time,
    TimeSpan Timeout,
    TimeSpan ValidDuration,
    int ValidUseCount,
    FrozenDictionary<string, IAdapterCounter> Counters);

internal static partial class ScriptLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "{Handler} {Template} script: {Text}")]
    public static partial void Info(ILogger logger, string handler, string template, string text);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "{Handler} {Template} script: {Text}")]
    public static partial void Warning(ILogger logger, string handler, string template, string text);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "{Handler}: {Template} script failed on {Failed} of {Total} instances: {Error}")]
    public static partial void ReportFailed(ILogger logger, string handler, string template, int failed, int total, string error);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "script handler {Handler} built: {Scripts}")]
    public static partial void Built(ILogger logger, string handler, string scripts);
}
