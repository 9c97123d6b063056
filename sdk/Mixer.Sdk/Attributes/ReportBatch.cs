using Google.Protobuf;
using Istio.Mixer.V1;

namespace Mixer.Sdk;

/// <summary>
/// The attribute sets of one <see cref="ReportRequest"/>, every index checked up front. With
/// DELTA_ENCODING (Istio 1.0's only semantics) each set is applied on top of all the sets before
/// it; with INDEPENDENT_ENCODING each stands alone.
/// </summary>
/// <remarks>
/// Read straight from the request's bytes: every set is checked and its attributes kept as
/// decoded values in one array; <see cref="Bags"/> then updates a single bag in place from set to
/// set. Nothing refers to the request's bytes once the batch is made, and no object is built per
/// set, which is what made Report's decoding cost more than the rest of a report. mixs, when no
/// rule of its config acts on Report, only checks the sets (every rule, nothing decoded) and keeps
/// the request's bytes until the batch is released: should a config that reads them be in force by
/// the time the batch is dispatched, <see cref="Bags"/> decodes them then.
/// </remarks>
public sealed class ReportBatch
{
    /// <summary>How an error about bytes that are not a <c>ReportRequest</c> starts.</summary>
    public const string UndecodablePrefix = "request message could not be decoded as ReportRequest: ";

    private const int FieldAttributes = 1;
    private const int FieldDefaultWords = 2;
    private const int FieldGlobalWordCount = 3;
    private const int FieldSemantics = 4;

    // Beyond these, storage is not kept for the next report.
    private const int RetainedEntries = 1 << 16;
    private const int RetainedSets = 1 << 14;
    private const int RetainedWords = 1 << 14;

    [ThreadStatic]
    private static ReportBatch? t_spare;

    private readonly ProtoBag _checking = ProtoBag.ForReuse();
    private readonly ProtoBag _current = ProtoBag.ForReuse();
    private readonly WordList _defaultWords = new();
    private readonly List<string> _ownWords = [];
    private readonly List<string> _names = [];
    private readonly int[] _seen = new int[GlobalDictionary.Count];
    private int _stamp;
    private ProtoBag.Slot[] _entries = new ProtoBag.Slot[64];
    private int[] _starts = new int[17];
    private int _used;
    private int _count;
    private bool _delta;
    private uint _globalWordCount;

    // A batch only checked (mixs, no report rule): the request, until Release, to decode on demand.
    private ReadOnlyMemory<byte> _source;
    private bool _decoded;

    private ReportBatch()
    {
    }

    /// <summary>Number of attribute sets.</summary>
    public int Count => _count;

    /// <summary>Checks every element of <paramref name="request"/>.</summary>
    /// <param name="request">The request as received.</param>
    /// <param name="batch">The decoded batch when valid.</param>
    /// <param name="error">What is wrong (naming the element) when not.</param>
    public static bool TryCreate(ReportRequest request, out ReportBatch batch, out string? error)
    {
        ArgumentNullException.ThrowIfNull(request);
        return TryCreate(request.ToByteArray(), out batch, out error);
    }

    /// <summary>Checks every element of the encoded <c>ReportRequest</c> in <paramref name="reportRequest"/>.</summary>
    /// <param name="reportRequest">The request's bytes as received.</param>
    /// <param name="batch">The decoded batch when valid.</param>
    /// <param name="error">
    /// What is wrong when not: <see cref="ProtoBag.InvalidAttributesPrefix"/> then <c>attributes[i]: </c>
    /// for a set with bad words or values, <see cref="UndecodablePrefix"/> for bytes that are not a request.
    /// </param>
    public static bool TryCreate(ReadOnlySpan<byte> reportRequest, out ReportBatch batch, out string? error) =>
        TryCreate(reportRequest, default, decode: true, out batch, out error);

    /// <summary>
    /// Checks every element of the encoded <c>ReportRequest</c> in <paramref name="reportRequest"/>,
    /// which the caller keeps unchanged until it releases the batch. With <paramref name="decode"/>
    /// false the sets are only checked (every rule, the same errors) and decoded if and when
    /// <see cref="Bags"/> is first called: for a server whose config has no rule that reads them.
    /// </summary>
    internal static bool TryCreate(ReadOnlyMemory<byte> reportRequest, bool decode, out ReportBatch batch, out string? error) =>
        TryCreate(reportRequest.Span, reportRequest, decode, out batch, out error);

    private static bool TryCreate(ReadOnlySpan<byte> reportRequest, ReadOnlyMemory<byte> source, bool decode, out ReportBatch batch, out string? error)
    {
        var b = t_spare ?? new ReportBatch();
        t_spare = null;
        try
        {
            b._source = source;
            if (b.TryLoad(reportRequest, decode, out error))
            {
                batch = b;
                return true;
            }
        }
        catch (WireFormatException e)
        {
            error = UndecodablePrefix + e.Message;
        }

        b.Release();
        batch = null!;
        return false;
    }

    /// <summary>
    /// The attribute sets in order. Under delta encoding one bag is updated in place from set to
    /// set: use each bag before moving to the next, and do not keep it.
    /// </summary>
    public IEnumerable<IAttributeBag> Bags()
    {
        if (!_decoded)
        {
            // Checked when made, so this cannot fail unless the caller changed the bytes.
            if (!Decode(_source.Span, out var error))
            {
                throw new InvalidOperationException($"a report checked when received no longer decodes: {error}");
            }

            _source = default;
        }

        var bag = _current;
        bag.Clear();
        for (var i = 0; i < _count; i++)
        {
            if (!_delta)
            {
                bag.Clear();
            }

            for (var e = _starts[i]; e < _starts[i + 1]; e++)
            {
                bag.Overlay(_entries[e]);
            }

            yield return bag;
        }
    }

    /// <summary>
    /// Hands the batch's storage back for the next report; the batch is empty afterwards. Only for
    /// the owner of a batch nothing else reads any more (mixs, once a Report is answered).
    /// </summary>
    internal void Release()
    {
        // Values already handed out (strings, maps, byte arrays) are never reused: only the
        // arrays that held them are.
        _checking.Clear();
        _current.Clear();
        Array.Clear(_entries, 0, _used);
        if (_entries.Length > RetainedEntries)
        {
            _entries = new ProtoBag.Slot[64];
        }

        if (_starts.Length > RetainedSets)
        {
            _starts = new int[17];
        }

        _defaultWords.Release(RetainedWords);
        _ownWords.Clear();
        _names.Clear();
        _source = default;
        _decoded = false;
        _used = 0;
        _count = 0;
        _starts[0] = 0;
        t_spare = this;
    }

    /// <exception cref="WireFormatException">The envelope is not a message.</exception>
    private bool TryLoad(ReadOnlySpan<byte> request, bool decode, out string? error)
    {
        // The envelope first: default_words and global_word_count may follow the sets they serve.
        // Words stay bytes where the request outlives the batch's making, until a set needs them.
        uint globalWordCount = 0;
        ulong semantics = 0;
        var sets = 0;
        var lazyWords = !_source.IsEmpty;
        _defaultWords.Reset(_source);
        var r = new WireReader(request);
        while (r.TryReadTag(out var field, out var wireType))
        {
            switch (field, wireType)
            {
                case (FieldAttributes, 2):
                    r.ReadBytes();
                    sets++;
                    break;
                case (FieldDefaultWords, 2) when lazyWords:
                    var (start, length) = r.ReadRange();
                    _defaultWords.Add(start, length);
                    break;
                case (FieldDefaultWords, 2):
                    _defaultWords.Add(r.ReadString());
                    break;
                case (FieldGlobalWordCount, 0):
                    globalWordCount = (uint)r.ReadVarint();
                    break;
                case (FieldSemantics, 0):
                    semantics = r.ReadVarint();
                    break;
                default:
                    r.Skip(wireType);
                    break;
            }
        }

        // Any value but DELTA_ENCODING (0) reads each set alone, as the generated enum comparison did.
        _delta = semantics == 0;
        _globalWordCount = globalWordCount;
        _count = sets;
        return decode ? Decode(request, out error) : Check(request, out error);
    }

    /// <summary>
    /// Every set checked, nothing kept: a set the quick check cannot vouch for (its own words,
    /// a name given twice, any error) is loaded in full, which says exactly what is wrong.
    /// </summary>
    private bool Check(ReadOnlySpan<byte> request, out string? error)
    {
        var index = 0;
        var r = new WireReader(request);
        while (r.TryReadTag(out var field, out var wireType))
        {
            if (field != FieldAttributes || wireType != 2)
            {
                r.Skip(wireType);
                continue;
            }

            var set = r.ReadBytes();
            if (++_stamp == int.MaxValue)
            {
                Array.Clear(_seen);
                _stamp = 1;
            }

            if (!ProtoBag.IsValidSet(set, _defaultWords, _globalWordCount, _seen, _stamp, _names))
            {
                _checking.Clear();
                var loaded = _checking.TryLoad(set, _defaultWords, _globalWordCount, _ownWords, out error);
                _checking.Clear();
                if (!loaded)
                {
                    error = Located(error!, index);
                    return false;
                }
            }

            index++;
        }

        error = null;
        return true;
    }

    /// <summary>Every set checked and its attributes kept, set after set, for <see cref="Bags"/>.</summary>
    /// <exception cref="WireFormatException">The envelope is not a message.</exception>
    private bool Decode(ReadOnlySpan<byte> request, out string? error)
    {
        if (_starts.Length < _count + 1)
        {
            _starts = new int[_count + 1];
        }

        _starts[0] = 0;
        var used = 0;
        var index = 0;
        var r = new WireReader(request);
        while (r.TryReadTag(out var field, out var wireType))
        {
            if (field != FieldAttributes || wireType != 2)
            {
                r.Skip(wireType);
                continue;
            }

            _checking.Clear();
            if (!_checking.TryLoad(r.ReadBytes(), _defaultWords, _globalWordCount, _ownWords, out error))
            {
                error = Located(error!, index);
                _used = used;
                return false;
            }

            var slots = _checking.Slots;
            if (used + slots.Length > _entries.Length)
            {
                Array.Resize(ref _entries, Math.Max(_entries.Length * 2, used + slots.Length));
            }

            slots.CopyTo(_entries.AsSpan(used));
            used += slots.Length;
            _starts[++index] = used;
        }

        _checking.Clear();
        _used = used;
        _decoded = true;
        error = null;
        return true;
    }

    /// <summary>An error of set <paramref name="index"/>, saying which set it is.</summary>
    private static string Located(string error, int index) =>
        error.StartsWith(ProtoBag.InvalidAttributesPrefix, StringComparison.Ordinal)
            ? error.Insert(ProtoBag.InvalidAttributesPrefix.Length, $"attributes[{index}]: ")
            : $"{UndecodablePrefix}attributes[{index}]: {error}";
}
