using Google.Protobuf;
using Google.Protobuf.Collections;
using Istio.Mixer.V1;

namespace Mixer.Sdk;

/// <summary>
/// A bag over one <see cref="CompressedAttributes"/> as it came off the wire. Every word index is
/// checked when the bag is made (<c>TryCreate</c>), so a bad request fails whole and early;
/// values are converted only when looked up; lookups are recorded in a <see cref="ReferenceTracker"/>.
/// </summary>
/// <remarks>
/// Word indexes: i &gt;= 0 is global word i, i &lt; 0 is message word -1-i. A client whose global
/// dictionary is longer than ours (a newer proxy) may name attributes with words we do not have: as
/// in Istio, such attributes are simply not seen. Any other index outside both lists is an error.
/// </remarks>
public sealed partial class ProtoBag : IAttributeBag
{
    /// <summary>
    /// How an invalid-attributes error starts. Istio's proxy recognises this prefix on an
    /// INVALID_ARGUMENT answer and falls back to the base global dictionary, so keep it verbatim.
    /// </summary>
    public const string InvalidAttributesPrefix = "Request could not be processed due to invalid attributes: ";

    private const byte SlotString = 1;
    private const byte SlotInt64 = 2;
    private const byte SlotDouble = 3;
    private const byte SlotBool = 4;
    private const byte SlotTimestamp = 5;
    private const byte SlotDuration = 6;
    private const byte SlotBytes = 7;
    private const byte SlotStringMap = 8;

    private const long MinTimestampSeconds = -62_135_596_800;
    private const long MaxTimestampSeconds = 253_402_300_799;

    private const int IndexedGlobalWords = 256;

    private Slot[] _slots;
    private int _count;

    // Slot position + 1 of the attribute named by each global word (0: not in the bag), so a lookup
    // by interned name, hit or miss, is one read: compiled expressions ask for absent attributes
    // all the time ('|' chains). Bags of 255 attributes or more fall back to scanning.
    private GlobalSlots _byGlobal;
    private bool _scanGlobal;

    // How many attributes are named by message words: none, in a typical proxy request.
    private int _nonGlobal;

    private ProtoBag(int capacity, ReferenceTracker? tracker)
    {
        // Pooled: a server that serves tens of thousands of checks a second hands them back (Release).
        _slots = System.Buffers.ArrayPool<Slot>.Shared.Rent(Math.Max(capacity, 1));
        Tracker = tracker;
    }

    /// <summary>
    /// Hands the bag's storage back for reuse; the bag is empty afterwards. Only for the owner of a
    /// bag that nothing else holds (mixs, once a Check is answered); a bag never released is simply
    /// collected.
    /// </summary>
    internal void Release()
    {
        var slots = _slots;
        _slots = [];
        _count = 0;
        _byGlobal = default;
        if (slots.Length > 0)
        {
            System.Buffers.ArrayPool<Slot>.Shared.Return(slots, clearArray: true);
        }
    }

    /// <summary>Where lookups are recorded, if anywhere.</summary>
    public ReferenceTracker? Tracker { get; set; }

    /// <summary>Number of attributes in the bag.</summary>
    public int Count => _count;

    /// <inheritdoc/>
    public IEnumerable<string> Names
    {
        get
        {
            for (var i = 0; i < _count; i++)
            {
                yield return _slots[i].Name;
            }
        }
    }

    /// <summary>
    /// Checks every index of <paramref name="attributes"/> and makes a bag over it.
    /// </summary>
    /// <param name="attributes">The attributes as received.</param>
    /// <param name="globalWordCount">The client's <c>global_word_count</c>.</param>
    /// <param name="defaultWords">Report's <c>default_words</c>: used when the message has no words of its own.</param>
    /// <param name="tracker">Where to record lookups, or null.</param>
    /// <param name="bag">The bag, when the attributes are valid.</param>
    /// <param name="error">What is wrong, starting with <see cref="InvalidAttributesPrefix"/>, when they are not.</param>
    public static bool TryCreate(
        CompressedAttributes attributes,
        uint globalWordCount,
        IReadOnlyList<string>? defaultWords,
        ReferenceTracker? tracker,
        out ProtoBag bag,
        out string? error)
    {
        ArgumentNullException.ThrowIfNull(attributes);
        IReadOnlyList<string> words = attributes.Words.Count == 0 && defaultWords is not null ? defaultWords : attributes.Words;
        var capacity = attributes.Strings.Count + attributes.Int64S.Count + attributes.Doubles.Count + attributes.Bools.Count
            + attributes.Timestamps.Count + attributes.Durations.Count + attributes.Bytes.Count + attributes.StringMaps.Count;
        bag = new ProtoBag(capacity, tracker);
        var d = new Decoder(words, globalWordCount);

        // Each typed map in turn; a name that resolves to a word we do not know (beyond our global
        // dictionary but within the client's) is skipped, as Istio 1.0 never saw such attributes.
        if (attributes.Strings.Count > 0)
        {
            foreach (var (k, v) in attributes.Strings)
            {
                if (!d.Name(k, "strings", out var name, out error))
                {
                    if (error is not null) return false;
                    continue;
                }

                if (!d.Value(v, WordRole.ValueOf, name, out var value, out error)) return false;
                if (!bag.Add(name, k, SlotString, 0, value, out error)) return false;
            }
        }

        if (attributes.Int64S.Count > 0)
        {
            foreach (var (k, v) in attributes.Int64S)
            {
                if (!d.Name(k, "int64s", out var name, out error)) { if (error is not null) return false; continue; }
                if (!bag.Add(name, k, SlotInt64, v, null, out error)) return false;
            }
        }

        if (attributes.Doubles.Count > 0)
        {
            foreach (var (k, v) in attributes.Doubles)
            {
                if (!d.Name(k, "doubles", out var name, out error)) { if (error is not null) return false; continue; }
                if (!bag.Add(name, k, SlotDouble, BitConverter.DoubleToInt64Bits(v), null, out error)) return false;
            }
        }

        if (attributes.Bools.Count > 0)
        {
            foreach (var (k, v) in attributes.Bools)
            {
                if (!d.Name(k, "bools", out var name, out error)) { if (error is not null) return false; continue; }
                if (!bag.Add(name, k, SlotBool, v ? 1 : 0, null, out error)) return false;
            }
        }

        if (attributes.Timestamps.Count > 0)
        {
            foreach (var (k, v) in attributes.Timestamps)
            {
                if (!d.Name(k, "timestamps", out var name, out error)) { if (error is not null) return false; continue; }
                if (v is null)
                {
                    error = $"{InvalidAttributesPrefix}timestamp '{name}' has nanos outside 0..999999999";
                    return false;
                }

                if (!CheckTimestamp(name, v.Seconds, v.Nanos, out error)) return false;
                if (!bag.Add(name, k, SlotTimestamp, v.Seconds, null, out error, v.Nanos)) return false;
            }
        }

        if (attributes.Durations.Count > 0)
        {
            foreach (var (k, v) in attributes.Durations)
            {
                if (!d.Name(k, "durations", out var name, out error)) { if (error is not null) return false; continue; }
                if (!CheckDuration(name, v?.Seconds ?? 0, v?.Nanos ?? 0, out var nanos, out error)) return false;

                if (!bag.Add(name, k, SlotDuration, nanos, null, out error)) return false;
            }
        }

        if (attributes.Bytes.Count > 0)
        {
            foreach (var (k, v) in attributes.Bytes)
            {
                if (!d.Name(k, "bytes", out var name, out error)) { if (error is not null) return false; continue; }
                if (!bag.Add(name, k, SlotBytes, 0, v, out error)) return false;
            }
        }

        if (attributes.StringMaps.Count > 0)
        {
            foreach (var (k, v) in attributes.StringMaps)
            {
                if (!d.Name(k, "string_maps", out var name, out error)) { if (error is not null) return false; continue; }
                if (!ResolveMap(d, name, v, out var map, out error)) return false;
                if (!bag.Add(name, k, SlotStringMap, 0, map, out error)) return false;
            }
        }

        error = null;
        return true;
    }

    /// <inheritdoc/>
    public bool TryGet(string name, out AttributeValue value)
    {
        for (var i = 0; i < _count; i++)
        {
            if (string.Equals(_slots[i].Name, name, StringComparison.Ordinal))
            {
                return Found(i, out value);
            }
        }

        Tracker?.Attribute(name, false);
        value = default;
        return false;
    }

    /// <inheritdoc/>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public bool TryGet(AttributeName name, out AttributeValue value)
    {
        var i = Find(name);
        if (i >= 0)
        {
            return Found(i, out value);
        }

        Tracker?.Attribute(name.Name, false);
        value = default;
        return false;
    }

    /// <summary>
    /// A string attribute without building an <see cref="AttributeValue"/> (compiled expressions'
    /// fast path): 1 with the string, 0 when absent (recorded as <see cref="TryGet(AttributeName, out AttributeValue)"/>
    /// would), -1 when present with another type (not recorded: ask <see cref="TryGet(AttributeName, out AttributeValue)"/>).
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public int TryGetString(AttributeName name, out string value)
    {
        ArgumentNullException.ThrowIfNull(name);
        var i = Find(name);
        if (i < 0)
        {
            Tracker?.Attribute(name.Name, false);
            value = string.Empty;
            return 0;
        }

        ref var slot = ref _slots[i];
        if (slot.Kind != SlotString)
        {
            value = string.Empty;
            return -1;
        }

        Tracker?.Attribute(slot.Name, true);
        value = (string)slot.Ref!;
        return 1;
    }

    /// <summary>
    /// <see cref="TryGetFirst"/> for string attributes without building an <see cref="AttributeValue"/>:
    /// the position of the first present name with its string (lookups recorded as TryGetFirst
    /// would), -1 when none is present, or -2 - position when the first present one has another
    /// type (that one not recorded: ask <see cref="TryGet(AttributeName, out AttributeValue)"/>).
    /// </summary>
    public int TryGetFirstString(AttributeName[] names, out string value)
    {
        ArgumentNullException.ThrowIfNull(names);
        var tracker = Tracker;
        for (var n = 0; n < names.Length; n++)
        {
            var i = Find(names[n]);
            if (i < 0)
            {
                tracker?.Attribute(names[n].Name, false);
                continue;
            }

            ref var slot = ref _slots[i];
            if (slot.Kind != SlotString)
            {
                value = string.Empty;
                return -2 - n;
            }

            tracker?.Attribute(slot.Name, true);
            value = (string)slot.Ref!;
            return n;
        }

        value = string.Empty;
        return -1;
    }

    /// <inheritdoc/>
    public int TryGetFirst(AttributeName[] names, out AttributeValue value)
    {
        ArgumentNullException.ThrowIfNull(names);
        for (var n = 0; n < names.Length; n++)
        {
            var i = Find(names[n]);
            if (i >= 0)
            {
                Found(i, out value);
                return n;
            }

            Tracker?.Attribute(names[n].Name, false);
        }

        value = default;
        return -1;
    }

    /// <inheritdoc/>
    public bool TryGetMapValue(AttributeName name, string key, out string value)
    {
        var i = Find(name);
        if (i < 0 || _slots[i].Kind != SlotStringMap)
        {
            Tracker?.Attribute(name.Name, i >= 0);
            value = string.Empty;
            return false;
        }

        var found = ((ResolvedMap)_slots[i].Ref!).TryGetValue(key, out value);
        Tracker?.MapKey(name.Name, key, found);
        return found;
    }

    /// <summary>The attribute at position <paramref name="index"/> (0..Count-1), not recorded.</summary>
    internal (string Name, AttributeValue Value) At(int index) => (_slots[index].Name, Convert(index));

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private int Find(AttributeName name)
    {
        var gi = name.GlobalIndex;
        var slots = _slots;
        if (gi >= 0)
        {
            if ((uint)gi < IndexedGlobalWords && !_scanGlobal)
            {
                return _byGlobal[gi] - 1;
            }

            for (var i = 0; i < _count; i++)
            {
                if (slots[i].GlobalIndex == gi)
                {
                    return i;
                }
            }

            return -1;
        }

        if (_nonGlobal == 0)
        {
            return -1;
        }

        for (var i = 0; i < _count; i++)
        {
            if (string.Equals(slots[i].Name, name.Name, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

    private bool Found(int i, out AttributeValue value)
    {
        value = Convert(i);
        if (Tracker is { } t)
        {
            if (value.Type == ValueType.StringMap)
            {
                t.WholeMap(_slots[i].Name, value.AsStringMap);
            }
            else
            {
                t.Attribute(_slots[i].Name, true);
            }
        }

        return true;
    }

    private AttributeValue Convert(int i)
    {
        ref var s = ref _slots[i];
        switch (s.Kind)
        {
            case SlotString:
                return AttributeValue.String((string)s.Ref!);
            case SlotInt64:
                return AttributeValue.Int64(s.Bits);
            case SlotDouble:
                return AttributeValue.Double(BitConverter.Int64BitsToDouble(s.Bits));
            case SlotBool:
                return AttributeValue.Bool(s.Bits != 0);
            case SlotTimestamp:
                return AttributeValue.Timestamp(s.Bits, s.Nanos);
            case SlotDuration:
                return AttributeValue.DurationNanos(s.Bits);
            case SlotBytes:
                // Converted once per bag: later lookups share the array.
                if (s.Ref is ByteString bs)
                {
                    s.Ref = bs.ToByteArray();
                }

                return AttributeValue.Bytes((byte[])s.Ref!);
            default:
                return AttributeValue.StringMap((ResolvedMap)s.Ref!);
        }
    }

    // key: the word index that named the attribute; a global index spares the dictionary lookup.
    private bool Add(string name, int key, byte kind, long bits, object? reference, out string? error, int nanos = 0)
    {
        var global = key >= 0 && key < GlobalDictionary.Count ? key : GlobalDictionary.IndexOf(name);
        var indexed = (uint)global < IndexedGlobalWords && !_scanGlobal;
        var duplicate = indexed && _byGlobal[global] != 0;
        for (var i = 0; !indexed && !duplicate && i < _count; i++)
        {
            // Names that are global words compare as indexes; the others as text.
            var other = _slots[i].GlobalIndex;
            duplicate = global >= 0 ? other == global : other < 0 && string.Equals(_slots[i].Name, name, StringComparison.Ordinal);
        }

        if (duplicate)
        {
            error = $"{InvalidAttributesPrefix}attribute '{name}' is given more than once";
            return false;
        }

        if (_count == _slots.Length)
        {
            Array.Resize(ref _slots, _slots.Length * 2);
        }

        if (global < 0)
        {
            _nonGlobal++;
        }
        else if ((uint)global < IndexedGlobalWords)
        {
            if (_count < byte.MaxValue)
            {
                _byGlobal[global] = (byte)(_count + 1);
            }
            else
            {
                _scanGlobal = true;
            }
        }

        _slots[_count++] = new Slot
        {
            Name = name,
            GlobalIndex = global,
            Kind = kind,
            Bits = bits,
            Nanos = nanos,
            Ref = reference,
        };
        error = null;
        return true;
    }

    /// <summary>google.protobuf.Timestamp's own rules: beyond them a value can be neither read as a date nor printed, and would fail later, in some handler.</summary>
    private static bool CheckTimestamp(string name, long seconds, int nanos, out string? error)
    {
        if (nanos is < 0 or > 999_999_999)
        {
            error = $"{InvalidAttributesPrefix}timestamp '{name}' has nanos outside 0..999999999";
            return false;
        }

        if (seconds is < MinTimestampSeconds or > MaxTimestampSeconds)
        {
            error = $"{InvalidAttributesPrefix}timestamp '{name}' is outside 0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999999Z";
            return false;
        }

        error = null;
        return true;
    }

    /// <summary>A duration as nanoseconds, or an error when it does not fit or mixes signs.</summary>
    private static bool CheckDuration(string name, long seconds, int nanos, out long total, out string? error)
    {
        const long maxSeconds = long.MaxValue / 1_000_000_000L - 1;
        total = 0;
        if (nanos is < -999_999_999 or > 999_999_999 || (seconds > 0 && nanos < 0) || (seconds < 0 && nanos > 0) || seconds is > maxSeconds or < -maxSeconds)
        {
            error = $"{InvalidAttributesPrefix}duration '{name}' is out of range (at most about 292 years, seconds and nanos of one sign)";
            return false;
        }

        total = (seconds * 1_000_000_000L) + nanos;
        error = null;
        return true;
    }

    private static bool ResolveMap(in Decoder d, string name, Istio.Mixer.V1.StringMap? map, out ResolvedMap resolved, out string? error)
    {
        var entries = map?.Entries;
        var n = entries?.Count ?? 0;
        var keys = n == 0 ? [] : new string[n];
        var values = n == 0 ? [] : new string[n];
        var j = 0;
        if (entries is not null && n > 0)
        {
            foreach (var (k, v) in entries)
            {
                if (!d.Value(k, WordRole.KeyOf, name, out var key, out error) || !d.Value(v, WordRole.MapValueOf, name, out var value, out error))
                {
                    resolved = null!;
                    return false;
                }

                keys[j] = key;
                values[j] = value;
                j++;
            }
        }

        resolved = new ResolvedMap(keys, values);
        error = null;
        return true;
    }

    [System.Runtime.CompilerServices.InlineArray(IndexedGlobalWords)]
    private struct GlobalSlots
    {
        private byte _first;
    }

    /// <summary>One attribute: its name, how it is held, and its value (inline bits, or a reference).</summary>
    internal struct Slot
    {
        public string Name;
        public int GlobalIndex;
        public byte Kind;
        public int Nanos;
        public long Bits;
        public object? Ref;
    }

    /// <summary>What a word is, for the error that names it.</summary>
    private enum WordRole : byte
    {
        ValueOf,
        KeyOf,
        MapValueOf,
    }

    /// <summary>Resolves word indexes against the message's words and the global dictionary.</summary>
    private readonly struct Decoder(IReadOnlyList<string> words, uint globalWordCount)
    {
        /// <summary>
        /// A name index. False with a null error: the word is one the client knows and we do not
        /// (skip the attribute). False with an error: the index is invalid.
        /// </summary>
        public bool Name(int index, string map, out string name, out string? error)
        {
            if (Resolve(index, out name))
            {
                error = null;
                return true;
            }

            if (index >= GlobalDictionary.Count && index < globalWordCount)
            {
                error = null;
                return false;
            }

            error = Undefined(index, $"an attribute name in {map}");
            return false;
        }

        public bool Value(int index, WordRole role, string name, out string value, out string? error)
        {
            if (Resolve(index, out value))
            {
                error = null;
                return true;
            }

            // Described only on failure: formatting per word was most of the bag's allocation.
            var what = role switch
            {
                WordRole.ValueOf => $"the value of '{name}'",
                WordRole.KeyOf => $"a key of '{name}'",
                _ => $"a value of '{name}'",
            };

            error = index >= GlobalDictionary.Count && index < globalWordCount
                ? $"{InvalidAttributesPrefix}word index {index} ({what}) is beyond this Mixer's global dictionary of {GlobalDictionary.Count} words; encode it as a message word"
                : Undefined(index, what);
            return false;
        }

        private bool Resolve(int index, out string word)
        {
            if (index >= 0)
            {
                if (index < GlobalDictionary.Count)
                {
                    word = GlobalDictionary.Word(index);
                    return true;
                }
            }
            else
            {
                var slot = -1L - index;
                if (slot < words.Count)
                {
                    word = words[(int)slot];
                    return true;
                }
            }

            word = string.Empty;
            return false;
        }

        private string Undefined(int index, string what) =>
            $"{InvalidAttributesPrefix}word index {index} ({what}) is not defined: the global dictionary has {GlobalDictionary.Count} words (indexes 0..{GlobalDictionary.Count - 1}) and the message {words.Count} (indexes -1..{-words.Count})";
    }

    /// <summary>A string map whose words are resolved; lookups scan (maps are small).</summary>
    private sealed class ResolvedMap(string[] keys, string[] values) : IStringMap
    {
        public int Count => keys.Length;

        public bool TryGetValue(string key, out string value)
        {
            for (var i = 0; i < keys.Length; i++)
            {
                if (string.Equals(keys[i], key, StringComparison.Ordinal))
                {
                    value = values[i];
                    return true;
                }
            }

            value = string.Empty;
            return false;
        }

        public IEnumerator<KeyValuePair<string, string>> GetEnumerator()
        {
            for (var i = 0; i < keys.Length; i++)
            {
                yield return new KeyValuePair<string, string>(keys[i], values[i]);
            }
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
