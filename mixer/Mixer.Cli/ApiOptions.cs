using System.CommandLine;
using Istio.Mixer.V1;
using Mixer.Sdk;

namespace Mixer.Cli;

/// <summary>What check and report share, read from the command line.</summary>
internal sealed record ApiArgs(
    Uri Address,
    int Repeat,
    int Concurrency,
    int Rate,
    bool PrintResponse,
    bool Json,
    int GlobalWordCount,
    TimeSpan Timeout,
    Attributes Attributes);

/// <summary>
/// The flags of <c>mixc check</c> and <c>mixc report</c>, named as in Istio's mixc (underscores
/// included, so Istio's scripts work unchanged), plus <c>--output</c>, <c>--global_word_count</c>
/// and <c>--timeout</c>.
/// </summary>
internal sealed class ApiOptions
{
    private readonly Option<string> _mixer = new("--mixer", "-m")
    {
        Description = "address and port of a running Mixer (HOST:PORT, or an http:// URL)",
        DefaultValueFactory = _ => "localhost:9091",
    };

    private readonly Option<int> _repeat = new("--repeat", "-r")
    {
        Description = "requests each worker sends, one after the other",
        DefaultValueFactory = _ => 1,
    };

    private readonly Option<int> _concurrency = new("--concurrency", "-c")
    {
        Description = "workers sending requests at the same time (each sends --repeat requests)",
        DefaultValueFactory = _ => 1,
    };

    private readonly Option<int> _rate = new("--rate")
    {
        Description = "most requests per second each worker sends (-1: as fast as it can)",
        DefaultValueFactory = _ => -1,
    };

    private readonly Option<bool> _printResponse = new("--print_response")
    {
        Description = "print every answer (--print_response false when generating load)",
        DefaultValueFactory = _ => true,
    };

    private readonly Option<string> _output = new("--output", "-o")
    {
        Description = "text (as Istio's mixc) or json (one object per answer, one per line)",
        DefaultValueFactory = _ => "text",
    };

    private readonly Option<int> _globalWordCount = new("--global_word_count")
    {
        Description = $"how many global dictionary words to use (0..{GlobalDictionary.Count}); 0 sends every word in the message, as Istio's mixc",
        DefaultValueFactory = _ => GlobalDictionary.Count,
    };

    private readonly Option<string> _timeout = new("--timeout")
    {
        Description = "deadline of each call, a Go duration",
        DefaultValueFactory = _ => "10s",
    };

    private readonly Option<string[]>[] _attributes = AttributeFlags.Kinds
        .Select(k => new Option<string[]>(k.Flag, k.Alias is null ? [] : [k.Alias])
        {
            Description = k.Description + " (repeatable)",
            AllowMultipleArgumentsPerToken = false,
        })
        .ToArray();

    public ApiOptions() => _output.AcceptOnlyFromAmong("text", "json");

    public void AddTo(Command command)
    {
        foreach (var a in _attributes)
        {
            command.Options.Add(a);
        }

        command.Options.Add(_mixer);
        command.Options.Add(_repeat);
        command.Options.Add(_concurrency);
        command.Options.Add(_rate);
        command.Options.Add(_printResponse);
        command.Options.Add(_output);
        command.Options.Add(_globalWordCount);
        command.Options.Add(_timeout);
    }

    public bool TryRead(ParseResult parse, out ApiArgs args, out string? error)
    {
        args = null!;
        var values = _attributes.Select(o => (IReadOnlyList<string>)(parse.GetValue(o) ?? [])).ToArray();
        if (!AttributeFlags.TryBuild(values, out var attributes, out error))
        {
            return false;
        }

        var repeat = parse.GetValue(_repeat);
        var concurrency = parse.GetValue(_concurrency);
        var words = parse.GetValue(_globalWordCount);
        var timeoutText = parse.GetValue(_timeout)!;
        var mixer = parse.GetValue(_mixer)!;
        var timeoutOk = GoDuration.TryParse(timeoutText, out var nanos) && nanos > 0;
        var addressOk = TryAddress(mixer, out var address);
        error = repeat < 1 ? "--repeat must be at least 1"
            : concurrency < 1 ? "--concurrency must be at least 1"
            : words < 0 || words > GlobalDictionary.Count ? $"--global_word_count must be 0..{GlobalDictionary.Count}"
            : !timeoutOk ? $"--timeout '{timeoutText}' is not a positive Go duration (e.g. 500ms, 10s)"
            : !addressOk ? $"--mixer '{mixer}' is not HOST:PORT or an http:// URL"
            : null;
        if (error is not null)
        {
            return false;
        }

        args = new ApiArgs(
            address,
            repeat,
            concurrency,
            parse.GetValue(_rate),
            parse.GetValue(_printResponse),
            parse.GetValue(_output) == "json",
            words,
            TimeSpan.FromTicks(Math.Max(1, nanos / 100)),
            attributes);
        return true;
    }

    private static bool TryAddress(string text, out Uri address)
    {
        var url = text.Contains("://", StringComparison.Ordinal) ? text : "http://" + text;
        if (Uri.TryCreate(url, UriKind.Absolute, out address!) && address.Scheme is "http" or "https" && address.Port > 0
            && (text.Contains("://", StringComparison.Ordinal) || text.Contains(':', StringComparison.Ordinal)))
        {
            return true;
        }

        address = null!;
        return false;
    }
}
