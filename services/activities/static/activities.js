// The teacher pages' comforts; every page also works without them.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // "Copier le lien": the share URL to the clipboard, then a short confirmation.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var done = document.getElementById(button.dataset.done);
      navigator.clipboard.writeText(button.dataset.copy).then(function () {
        if (done) { done.hidden = false; }
      });
    });
  });

  // A select that applies itself (the class filter).
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  // Drag and drop: the .ipynb goes to the notebook field, every other file to the annexes.
  var zone = document.getElementById("dropzone");
  if (!zone) { return; }
  var notebook = document.getElementById("notebook");
  var annex = document.getElementById("annex");
  var list = document.getElementById("file-list");

  function show() {
    list.textContent = "";
    [notebook, annex].forEach(function (input) {
      Array.prototype.forEach.call(input.files, function (file) {
        var item = document.createElement("li");
        item.textContent = file.name + (input === notebook ? " (notebook)" : "");
        list.appendChild(item);
      });
    });
  }

  function choose(files) {
    var notebooks = new DataTransfer(), annexes = new DataTransfer();
    Array.prototype.forEach.call(annex.files, function (file) { annexes.items.add(file); });
    Array.prototype.forEach.call(files, function (file) {
      if (/\.ipynb$/i.test(file.name) && notebooks.files.length === 0) {
        notebooks.items.add(file);
      } else {
        annexes.items.add(file);
      }
    });
    if (notebooks.files.length) { notebook.files = notebooks.files; }
    annex.files = annexes.files;
    var upload = document.querySelector("input[name=source][value=upload]");
    if (upload) { upload.checked = true; }
    show();
  }

  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (event) { event.preventDefault(); zone.classList.add("dragging"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    zone.addEventListener(name, function () { zone.classList.remove("dragging"); });
  });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    choose(event.dataTransfer.files);
  });
  notebook.addEventListener("change", show);
  annex.addEventListener("change", show);
});

// A button that asks first ("Rendre ma copie"): the form is sent only once confirmed.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button[data-confirm]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (!window.confirm(button.dataset.confirm)) { event.preventDefault(); }
    });
  });
});

// "Tout cocher" in the list of copies (hidden without this script: each copy is ticked by hand).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("input[data-ticks]").forEach(function (all) {
    all.hidden = false;
    all.addEventListener("change", function () {
      document.querySelectorAll("input[name=" + all.dataset.ticks + "]").forEach(function (box) {
        box.checked = all.checked;
      });
    });
  });
});
